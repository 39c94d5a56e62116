#include "CProxyShims.h"

// scripts/build-release defines KAFKA_PROXY_GIT_COMMIT (-Xcc -DKAFKA_PROXY_GIT_COMMIT=<commit>) as a
// bare token, so no shell or SwiftPM quoting can mangle it; it is turned into a string here. A plain
// `swift build` defines nothing and the binary says "unknown" rather than guessing.
#define CPROXYSHIMS_STRINGIFY_(x) #x
#define CPROXYSHIMS_STRINGIFY(x) CPROXYSHIMS_STRINGIFY_(x)

const char *CProxyShims_build_commit(void) {
#ifdef KAFKA_PROXY_GIT_COMMIT
    return CPROXYSHIMS_STRINGIFY(KAFKA_PROXY_GIT_COMMIT);
#else
    return "unknown";
#endif
}
