// RFC 5321 path parsing (implementation pending).
#include "mail/address.h"
