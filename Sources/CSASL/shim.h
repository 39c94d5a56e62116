#ifndef CSASL_SHIM_H
#define CSASL_SHIM_H
#include <sasl/sasl.h>
#include <sasl/saslutil.h>
#endif
