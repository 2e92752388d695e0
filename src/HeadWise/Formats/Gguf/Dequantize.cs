using System.Runtime.CompilerServices;

namespace HeadWise.Formats.Gguf;

/// <summary>
/// Turns raw ggml tensor bytes into floats (or bfloat16). Callers have already bounds-checked src and dst and checked
/// that the element count is a whole number of blocks. Each block decoder follows the block layout of ggml's
/// ggml-common.h (fields in storage order) and evaluates its arithmetic in the same order, so the floats are the ones
/// ggml's own dequantize_row_* gives, bit for bit (checked in the tests).
/// </summary>
internal static unsafe class Dequantize
{
    /// <summary>The types <see cref="ToFloats"/> decodes.</summary>
    public static bool Supports(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.IQ4_NL
        or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    // Big tensors are split into chunks converted in parallel; small ones are not worth the scheduling.
    // A chunk is a multiple of every block size (1, 32 and 256 elements).
    private const int ChunkElements = 1 << 16;
    private const long ParallelThreshold = 1 << 18;

    public static void ToFloats(GgmlType type, byte* src, float* dst, long count)
    {
        nint s = (nint)src, d = (nint)dst; // pointers cannot be captured by a lambda; addresses can
        ForChunks(count, (start, n) => Convert(type, (byte*)s, (float*)d + start, start, n));
    }

    /// <summary>
    /// Decodes into bfloat16 (round to nearest even) through a small float buffer per chunk, so a big tensor never
    /// exists as float32. <paramref name="name"/> names the tensor if a value is beyond bfloat16's range.
    /// </summary>
    public static void ToBFloat16(GgmlType type, byte* src, ushort* dst, long count, string source, string name)
    {
        nint s = (nint)src, d = (nint)dst;
        ForChunks(count, (start, n) =>
        {
            var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(n);
            try
            {
                fixed (float* f = buffer) Convert(type, (byte*)s, f, start, n);
                BFloat16.FromFloats(buffer.AsSpan(0, n), new Span<ushort>((ushort*)d + start, n), source, name);
            }
            finally { System.Buffers.ArrayPool<float>.Shared.Return(buffer); }
        });
    }

    private static void ForChunks(long count, Action<long, int> convert)
    {
        if (count < ParallelThreshold)
        {
            for (long start = 0; start < count; start += ChunkElements) convert(start, (int)Math.Min(ChunkElements, count - start));
            return;
        }
        var chunks = (count + ChunkElements - 1) / ChunkElements;
        Parallel.For(0L, chunks, c =>
        {
            var start = c * ChunkElements;
            convert(start, (int)Math.Min(ChunkElements, count - start));
        });
    }

    /// <summary>Elements [start, start+n) of the tensor into y[0..n); start is a multiple of the type's block size.</summary>
    private static void Convert(GgmlType type, byte* src, float* y, long start, int n)
    {
        GgmlTypeInfo.TryGetLayout(type, out var blockSize, out var blockBytes);
        var p = src + start / blockSize * blockBytes;
        switch (type)
        {
            case GgmlType.F32:
                Buffer.MemoryCopy(p, y, (long)n * 4, (long)n * 4);
                return;
            case GgmlType.F16:
                for (var i = 0; i < n; i++) y[i] = (float)((Half*)p)[i];
                return;
            case GgmlType.BF16:
                for (var i = 0; i < n; i++) y[i] = BFloat16.ToFloat(((ushort*)p)[i]);
                return;
        }
        delegate*<byte*, float*, void> block = type switch
        {
            GgmlType.Q4_0 => &Q4_0,
            GgmlType.Q4_1 => &Q4_1,
            GgmlType.Q5_0 => &Q5_0,
            GgmlType.Q5_1 => &Q5_1,
            GgmlType.Q8_0 => &Q8_0,
            GgmlType.IQ4_NL => &IQ4_NL,
            GgmlType.Q2_K => &Q2_K,
            GgmlType.Q3_K => &Q3_K,
            GgmlType.Q4_K => &Q4_K,
            GgmlType.Q5_K => &Q5_K,
            GgmlType.Q6_K => &Q6_K,
            _ => throw new NotSupportedException($"cannot dequantise {type}"),
        };
        for (var i = 0; i < n; i += blockSize, p += blockBytes) block(p, y + i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Fp16(byte* p) => (float)*(Half*)p;

    // ---- 32-element blocks: y[j] from the low nibbles, y[j + 16] from the high ones ----

    /// <summary>Q4_0 (18 bytes): fp16 d, 16 bytes of 4-bit quants; y = d * (q - 8).</summary>
    private static void Q4_0(byte* b, float* y)
    {
        float d = Fp16(b);
        var qs = b + 2;
        for (var j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0x0F) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    /// <summary>Q4_1 (20 bytes): fp16 d, fp16 m, 16 bytes of 4-bit quants; y = d * q + m.</summary>
    private static void Q4_1(byte* b, float* y)
    {
        float d = Fp16(b), m = Fp16(b + 2);
        var qs = b + 4;
        for (var j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0x0F) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    /// <summary>Q5_0 (22 bytes): fp16 d, 32 fifth bits (uint32 qh), 16 bytes of low nibbles; y = d * (q - 16).</summary>
    private static void Q5_0(byte* b, float* y)
    {
        float d = Fp16(b);
        uint qh = Unsafe.ReadUnaligned<uint>(b + 2);
        var qs = b + 6;
        for (var j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (((qs[j] & 0x0F) | h0) - 16) * d;
            y[j + 16] = (((qs[j] >> 4) | h1) - 16) * d;
        }
    }

    /// <summary>Q5_1 (24 bytes): fp16 d, fp16 m, uint32 qh, 16 bytes of low nibbles; y = d * q + m.</summary>
    private static void Q5_1(byte* b, float* y)
    {
        float d = Fp16(b), m = Fp16(b + 2);
        uint qh = Unsafe.ReadUnaligned<uint>(b + 4);
        var qs = b + 8;
        for (var j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10, h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = ((qs[j] & 0x0F) | h0) * d + m;
            y[j + 16] = ((qs[j] >> 4) | h1) * d + m;
        }
    }

    /// <summary>Q8_0 (34 bytes): fp16 d, 32 int8 quants; y = d * q.</summary>
    private static void Q8_0(byte* b, float* y)
    {
        float d = Fp16(b);
        var qs = (sbyte*)(b + 2);
        for (var j = 0; j < 32; j++) y[j] = qs[j] * d;
    }

    /// <summary>The 16 non-linear levels of IQ4_NL (ggml's kvalues_iq4nl).</summary>
    private static ReadOnlySpan<sbyte> Iq4NlLevels => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>IQ4_NL (18 bytes): fp16 d, 16 bytes of 4-bit indices into a fixed table; y = d * level[q]. llama.cpp's
    /// quantizer writes it for Q2_K/Q3_K tensors whose rows are not a multiple of 256.</summary>
    private static void IQ4_NL(byte* b, float* y)
    {
        float d = Fp16(b);
        var qs = b + 2;
        var levels = Iq4NlLevels;
        for (var j = 0; j < 16; j++)
        {
            y[j] = d * levels[qs[j] & 0x0F];
            y[j + 16] = d * levels[qs[j] >> 4];
        }
    }

    // ---- 256-element super-blocks (k-quants) ----

    /// <summary>
    /// Q2_K (84 bytes): 16 scale bytes (low nibble scale, high nibble min, one per 16 values), 64 bytes of 2-bit quants,
    /// fp16 d, fp16 dmin. Each 128 values read 32 quant bytes four times at shifts 0, 2, 4, 6.
    /// </summary>
    private static void Q2_K(byte* b, float* y)
    {
        byte* scales = b, q = b + 16;
        float d = Fp16(b + 80), min = Fp16(b + 82);
        var s = 0;
        for (var half = 0; half < 2; half++, q += 32)
            for (var shift = 0; shift < 8; shift += 2)
                for (var part = 0; part < 2; part++)
                {
                    int sc = scales[s++];
                    float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                    var qp = q + 16 * part;
                    for (var l = 0; l < 16; l++) *y++ = dl * ((qp[l] >> shift) & 3) - ml;
                }
    }

    /// <summary>
    /// Q3_K (110 bytes): 32 bytes of high bits (hmask), 64 bytes of 2-bit quants, 12 bytes holding sixteen 6-bit scales,
    /// fp16 d. Value = d * (scale - 32) * (low2 - (high bit clear ? 4 : 0)).
    /// </summary>
    private static void Q3_K(byte* b, float* y)
    {
        byte* hm = b, q = b + 32, packed = b + 96;
        float d = Fp16(b + 108);
        Span<int> scales = stackalloc int[16];
        for (var i = 0; i < 16; i++)
        {
            // Scale i: low 4 bits from byte i%8 (low nibble for i < 8, high for i >= 8), high 2 bits from byte 8 + i%4 at bit 2*(i/4).
            int low = i < 8 ? packed[i] & 0xF : packed[i - 8] >> 4;
            int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
            scales[i] = (low | (high << 4)) - 32;
        }
        var s = 0;
        var mask = 1;
        for (var half = 0; half < 2; half++, q += 32)
            for (var shift = 0; shift < 8; shift += 2, mask <<= 1)
                for (var part = 0; part < 2; part++)
                {
                    float dl = d * scales[s++];
                    byte* qp = q + 16 * part, hp = hm + 16 * part;
                    for (var l = 0; l < 16; l++) *y++ = dl * (((qp[l] >> shift) & 3) - ((hp[l] & mask) != 0 ? 0 : 4));
                }
    }

    /// <summary>Scale and min j (0..7) of Q4_K/Q5_K, 6 bits each, packed in 12 bytes (ggml's get_scale_min_k4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Scale, int Min) ScaleMinK4(int j, byte* q) => j < 4
        ? (q[j] & 63, q[j + 4] & 63)
        : ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));

    /// <summary>Q4_K (144 bytes): fp16 d, fp16 dmin, 12 scale bytes, 128 bytes of 4-bit quants; y = d*scale*q - dmin*min per 32 values.</summary>
    private static void Q4_K(byte* b, float* y)
    {
        float d = Fp16(b), min = Fp16(b + 2);
        byte* packed = b + 4, q = b + 16;
        for (var j = 0; j < 8; j += 2, q += 32)
        {
            var (sc1, m1) = ScaleMinK4(j, packed);
            var (sc2, m2) = ScaleMinK4(j + 1, packed);
            float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
            for (var l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - min1;
            for (var l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - min2;
        }
    }

    /// <summary>Q5_K (176 bytes): fp16 d, fp16 dmin, 12 scale bytes, 32 bytes of fifth bits, 128 bytes of low nibbles.</summary>
    private static void Q5_K(byte* b, float* y)
    {
        float d = Fp16(b), min = Fp16(b + 2);
        byte* packed = b + 4, qh = b + 16, ql = b + 48;
        int u1 = 1, u2 = 2;
        for (var j = 0; j < 8; j += 2, ql += 32, u1 <<= 2, u2 <<= 2)
        {
            var (sc1, m1) = ScaleMinK4(j, packed);
            var (sc2, m2) = ScaleMinK4(j + 1, packed);
            float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
            for (var l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - min1;
            for (var l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - min2;
        }
    }

    /// <summary>
    /// Q6_K (210 bytes): 128 bytes of low nibbles (ql), 64 bytes of high 2-bit pairs (qh), 16 int8 scales, fp16 d.
    /// y = d * scale * (q - 32), each 128 values built from 64 ql bytes and 32 qh bytes.
    /// </summary>
    private static void Q6_K(byte* b, float* y)
    {
        byte* ql = b, qh = b + 128;
        var sc = (sbyte*)(b + 192);
        float d = Fp16(b + 208);
        for (var half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8)
            for (var l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[s] * q1;
                y[l + 32] = d * sc[s + 2] * q2;
                y[l + 64] = d * sc[s + 4] * q3;
                y[l + 96] = d * sc[s + 6] * q4;
            }
    }
}
