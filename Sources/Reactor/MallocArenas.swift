#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxyShims

/// glibc gives each thread that allocates its own malloc arena (64 MB reserved, its first pages
/// resident). Relaying allocates nothing per request, so per-thread arenas buy no speed here, only
/// ~0.25 MB of RSS in every sidecar. MALLOC_ARENA_MAX in the environment still wins.
public enum MallocArenas {
    /// Call before the loops start their threads.
    public static func limit() {
        if getenv("MALLOC_ARENA_MAX") == nil { _ = CProxyShims_set_malloc_arena_max(1) }
    }
}
