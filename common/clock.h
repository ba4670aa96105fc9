// Monotonic wall-clock seconds, for phase timings and timeouts.
#pragma once

double mg_seconds(void);
// The time now in UTC, ISO 8601 ("2026-12-06T00:04:37Z"), into buf (at least 21 bytes).
void mg_utc_now(char *buf, unsigned cap);
