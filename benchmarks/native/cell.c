/* An LSTM cell update fused into one pass, for benchmarks/bench_native_cell.py only: an
 * experiment that measures what a compiled kernel would gain over the numpy engine's seven
 * ufunc calls per step. Not used by squall itself.
 *
 * Input layout is the numpy engine's (squall/engines/numpy_engine.py): z is (4H, n), rows o, i,
 * f, g, with the o, i, f pre-activations halved; c is (H, n); h (H, n) receives the doubled
 * state 2h. Sigmoid and tanh come from one exponential each:
 *   2 sigmoid(2 u) = 2 / (1 + e^(-2u)),   tanh(u) = 1 - 2 / (1 + e^(2u)).
 * Build: cc -O3 -march=native -fno-trapping-math -shared -fPIC (without -fno-trapping-math GCC
 * keeps the selects as branches and does not vectorise the loop).
 */
#include <stdint.h>

/* e^x: x = k ln 2 + r with |r| <= ln 2 / 2 (ln 2 split in two parts), a degree-6 polynomial in
 * r (the classic single-precision coefficients, ~1 ulp), then 2^k put into the exponent bits. */
static inline float exp_f32(float x) {
    x = x > 80.f ? 80.f : (x < -80.f ? -80.f : x);
    float k = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
    float p = 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { float f; int32_t i; } scale;
    scale.i = ((int32_t)k + 127) << 23;
    return p * scale.f;
}

static inline float twice_sigmoid_of_twice(float u) { return 2.f / (1.f + exp_f32(-2.f * u)); }

static inline float tanh_f32(float u) { return 1.f - 2.f / (1.f + exp_f32(2.f * u)); }

void lstm_cell(const float *restrict z, float *restrict c, float *restrict h, long H, long n) {
    for (long r = 0; r < H; r++) {
        const float *zo = z + r * n, *zi = z + (H + r) * n, *zf = z + (2 * H + r) * n,
                    *zg = z + (3 * H + r) * n;
        float *cr = c + r * n, *hr = h + r * n;
        for (long j = 0; j < n; j++) {
            float i = twice_sigmoid_of_twice(zi[j]), f = twice_sigmoid_of_twice(zf[j]);
            float cell = 0.5f * (i * tanh_f32(zg[j]) + f * cr[j]);
            cr[j] = cell;
            hr[j] = twice_sigmoid_of_twice(zo[j]) * tanh_f32(cell);
        }
    }
}
