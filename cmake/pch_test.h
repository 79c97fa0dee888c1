// Precompiled header for the test binaries that run on the Asio event loop: pch_asio.h plus GoogleTest and GMock.
#pragma once
#include "cmake/pch_asio.h"
#include <gmock/gmock.h>
#include <gtest/gtest.h>
