// Monotonic wall-clock seconds, for phase timings and timeouts.
#pragma once

double mg_seconds(void);
