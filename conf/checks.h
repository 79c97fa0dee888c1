// Rules that tie keys of different tables together (a certificate for listen_tls, a redis_url for the redis cache,
// a users_file for require_auth, ...). Each key's own type and bounds are checked while reading (params.cpp).
#pragma once

#include "conf/config.h"
#include "conf/walk.h"

namespace smarthost::conf {

// Reports every broken rule of `config` at the origin of the key involved.
void check_config(const Config& config, Walk& w);

}  // namespace smarthost::conf
