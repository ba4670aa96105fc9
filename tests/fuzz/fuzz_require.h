// What every fuzz target asserts with: a broken property traps, which libFuzzer reports with the input that did it
// (an assert would vanish under NDEBUG).
#pragma once

#define require(cond)                  \
    do {                               \
        if (!(cond)) __builtin_trap(); \
    } while (0)
