// The one translation unit that compiles Boost.Asio (and its SSL and Beast parts); everything else only declares.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
