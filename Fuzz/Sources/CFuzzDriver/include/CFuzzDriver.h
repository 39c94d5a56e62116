#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs that own main() (LLVM 11+). SwiftPM links executables
/// with --defsym main=<Module>_main, so libFuzzer's own main() is never used: main.swift calls this.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));

#endif
