#ifndef CFMAPEAK_H
#define CFMAPEAK_H
/* A register-resident FMA loop per vector width, to measure a core's peak float32 FMA rate: the
   denominator of Tinh's MFU. Each width is compiled for its own ISA (function target attributes)
   and run only where the CPU has it, so one portable binary measures every width the CPU has. */
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

enum { CFMAPEAK_AVX2 = 1, CFMAPEAK_AVX512 = 2, CFMAPEAK_NEON = 4 };

/* The widths this CPU can run (a mask of the values above). */
int cfmapeak_widths(void);

/* float32 lanes of one vector of `width`; 0 for an unknown width. */
int cfmapeak_lanes(int width);

/* Independent accumulators of the loop: enough to cover the FMA latency on two pipes. */
int cfmapeak_accumulators(void);

/* Runs `iterations` rounds of one FMA on each accumulator (acc = acc * 1 + 1, so every lane of
   every accumulator ends at `iterations`, exactly while it is below 2^24) and returns the sum of
   all lanes, which the caller checks. Returns -1 when the CPU lacks `width`. */
double cfmapeak_run(int width, int64_t iterations);

#ifdef __cplusplus
}
#endif
#endif
