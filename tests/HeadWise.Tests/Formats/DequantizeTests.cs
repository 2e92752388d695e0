using System.Runtime.InteropServices;
using HeadWise.Formats;
using HeadWise.Formats.Gguf;

namespace HeadWise.Tests.Formats;

/// <summary>
/// Every quantised type HeadWise reads, decoded bit for bit like (1) a reference written here element by element from
/// the block layouts (ggml-common.h / the GGUF spec) and (2) ggml's own dequantize_row_* from llama.cpp's library.
/// Blocks are random bytes (every bit pattern of the quants and scales; fp16 fields kept finite) and blocks that
/// ggml's reference quantizer made from Gaussian floats.
/// </summary>
public unsafe class DequantizeTests
{
    public static TheoryData<GgmlType> Types => new(QuantTypes);

    internal static readonly GgmlType[] QuantTypes =
        [GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.IQ4_NL,
         GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    [Theory, MemberData(nameof(Types))]
    public void Random_blocks_decode_like_the_layout_reference_and_ggml(GgmlType type)
    {
        var blocks = RandomBlocks(type, 64, new Random((int)type));
        AssertDecodes(type, blocks);
    }

    [Theory, MemberData(nameof(Types))]
    public void Blocks_from_ggmls_quantizer_decode_like_the_layout_reference_and_ggml(GgmlType type)
    {
        var rng = new Random(100 + (int)type);
        var x = Enumerable.Range(0, 64 * 256).Select(_ => (float)(Normal(rng) * 0.05)).ToArray();
        AssertDecodes(type, Ggml.Quantize(type, x));
    }

    [Theory, MemberData(nameof(Types))]
    public void BFloat16_path_rounds_the_float_values(GgmlType type)
    {
        var blocks = RandomBlocks(type, 300_000 / BlockSize(type), new Random(7 + (int)type));  // over the parallel threshold
        long n = blocks.Length / BlockBytes(type) * BlockSize(type);
        var floats = new float[n];
        var halves = new ushort[n];
        fixed (byte* src = blocks)
        {
            fixed (float* f = floats) Dequantize.ToFloats(type, src, f, n);
            fixed (ushort* h = halves) Dequantize.ToBFloat16(type, src, h, n, "test", "t");
        }
        for (long i = 0; i < n; i++) Assert.Equal(BFloat16.FromFloat(floats[i]), halves[i]);
    }

    [Fact]
    public void BFloat16_conversion_refuses_values_beyond_its_range()
    {
        var ex = Assert.Throws<InvalidModelFileException>(() =>
            BFloat16.FromFloats([1f, float.MaxValue], new ushort[2], "m.gguf", "blk.0.attn_q.weight"));
        Assert.Contains("blk.0.attn_q.weight", ex.Message);
        Assert.Contains("bfloat16", ex.Message);
        BFloat16.FromFloats([float.PositiveInfinity, 3.3e38f], new ushort[2], "m", "t");  // already infinite, or in range: fine
    }

    private static void AssertDecodes(GgmlType type, byte[] blocks)
    {
        int bs = BlockSize(type), bb = BlockBytes(type);
        int count = blocks.Length / bb * bs;
        var actual = new float[count];
        fixed (byte* src = blocks) fixed (float* dst = actual) Dequantize.ToFloats(type, src, dst, count);

        var reference = new float[count];
        for (int b = 0; b < blocks.Length / bb; b++)
            LayoutReference.Decode(type, blocks.AsSpan(b * bb, bb), reference.AsSpan(b * bs, bs));
        var ggml = Ggml.Dequantize(type, blocks, count);

        for (int i = 0; i < count; i++)
        {
            Assert.True(Bits(reference[i]) == Bits(actual[i]), $"{type} element {i}: HeadWise {actual[i]:R}, layout reference {reference[i]:R}");
            Assert.True(Bits(ggml[i]) == Bits(actual[i]), $"{type} element {i}: HeadWise {actual[i]:R}, ggml {ggml[i]:R}");
        }
    }

    private static int Bits(float f) => BitConverter.SingleToInt32Bits(f);
    private static int BlockSize(GgmlType t) => GgmlTypeInfo.BlockSize(t);
    private static int BlockBytes(GgmlType t) => GgmlTypeInfo.BlockBytes(t);

    /// <summary>Random bytes with every fp16 field replaced by a finite value (so NaN never hides a difference).</summary>
    internal static byte[] RandomBlocks(GgmlType type, int count, Random rng)
    {
        int bb = BlockBytes(type);
        var bytes = new byte[count * bb];
        rng.NextBytes(bytes);
        for (int b = 0; b < count; b++)
            foreach (var at in LayoutReference.Fp16Fields(type))
                BitConverter.TryWriteBytes(bytes.AsSpan(b * bb + at), BitConverter.HalfToUInt16Bits((Half)(rng.NextDouble() * 2 - 1) * (Half)0.01));
        return bytes;
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>
    /// Element-by-element decoding written from the block layouts: for element i of a block, which bytes and bits hold
    /// its quant, scale and min. Arithmetic in the order ggml defines it (scale products first), so results are exact.
    /// </summary>
    private static class LayoutReference
    {
        public static int[] Fp16Fields(GgmlType t) => t switch
        {
            GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 or GgmlType.IQ4_NL => [0],
            GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
            GgmlType.Q2_K => [80, 82],
            GgmlType.Q3_K => [108],
            GgmlType.Q6_K => [208],
            _ => throw new ArgumentOutOfRangeException(nameof(t)),
        };

        private static readonly int[] Iq4NlTable = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

        private static float H(ReadOnlySpan<byte> b, int at) => (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(b[at..]));
        /// <summary>Nibble of byte k: low for the first half of a 32-block, high for the second.</summary>
        private static int Nibble(byte v, bool high) => high ? v >> 4 : v & 15;

        public static void Decode(GgmlType t, ReadOnlySpan<byte> b, Span<float> y)
        {
            for (int i = 0; i < y.Length; i++) y[i] = Element(t, b, i);
        }

        private static float Element(GgmlType t, ReadOnlySpan<byte> b, int i)
        {
            switch (t)
            {
                case GgmlType.Q4_0: return (Nibble(b[2 + i % 16], i >= 16) - 8) * H(b, 0);
                case GgmlType.Q4_1: return Nibble(b[4 + i % 16], i >= 16) * H(b, 0) + H(b, 2);
                case GgmlType.Q5_0:
                {
                    int fifth = (int)(BitConverter.ToUInt32(b[2..]) >> i) & 1;
                    return ((Nibble(b[6 + i % 16], i >= 16) | fifth << 4) - 16) * H(b, 0);
                }
                case GgmlType.Q5_1:
                {
                    int fifth = (int)(BitConverter.ToUInt32(b[4..]) >> i) & 1;
                    return (Nibble(b[8 + i % 16], i >= 16) | fifth << 4) * H(b, 0) + H(b, 2);
                }
                case GgmlType.Q8_0: return (sbyte)b[2 + i] * H(b, 0);
                case GgmlType.IQ4_NL: return H(b, 0) * Iq4NlTable[Nibble(b[2 + i % 16], i >= 16)];
                case GgmlType.Q2_K:
                {
                    // 128-value halves; in each, four 2-bit planes (shift 2j) of 32 bytes, 16 values per scale byte.
                    int h = i / 128, plane = i % 128 / 32, k = i % 32;
                    int q = b[16 + 32 * h + k] >> 2 * plane & 3;
                    int sc = b[i / 16];
                    return H(b, 80) * (sc & 15) * q - H(b, 82) * (sc >> 4);
                }
                case GgmlType.Q3_K:
                {
                    int h = i / 128, plane = i % 128 / 32, k = i % 32, s = i / 16;
                    int low2 = b[32 + 32 * h + k] >> 2 * plane & 3;
                    bool highBit = (b[k] >> 4 * h + plane & 1) == 1;    // hmask: bit (4h + plane) of byte k
                    int scaleLow = s < 8 ? b[96 + s] & 15 : b[96 + s - 8] >> 4;
                    int scaleHigh = b[96 + 8 + s % 4] >> 2 * (s / 4) & 3;
                    return H(b, 108) * ((scaleLow | scaleHigh << 4) - 32) * (low2 - (highBit ? 0 : 4));
                }
                case GgmlType.Q4_K:
                case GgmlType.Q5_K:
                {
                    int s = i / 32, g = i / 64, k = i % 32;
                    bool high = s % 2 == 1;
                    int q = t == GgmlType.Q4_K
                        ? Nibble(b[16 + 32 * g + k], high)
                        : Nibble(b[48 + 32 * g + k], high) + 16 * (b[16 + k] >> s & 1);
                    var (scale, min) = ScaleMin6(b.Slice(4, 12), s);
                    return H(b, 0) * scale * q - H(b, 2) * min;
                }
                case GgmlType.Q6_K:
                {
                    int h = i / 128, quarter = i % 128 / 32, k = i % 32;
                    int low4 = Nibble(b[64 * h + k + 32 * (quarter % 2)], quarter >= 2);
                    int high2 = b[128 + 32 * h + k] >> 2 * quarter & 3;
                    int scale = (sbyte)b[192 + 8 * h + k / 16 + 2 * quarter];
                    return H(b, 208) * scale * ((low4 | high2 << 4) - 32);
                }
                default: throw new ArgumentOutOfRangeException(nameof(t));
            }
        }

        /// <summary>Scale and min of sub-block s (0..7): 6 bits each; bytes 0-3 scales 0-3 and 4-7 mins 0-3 (low 6 bits),
        /// bytes 8-11 the low nibbles of scales 4-7 and high nibbles of mins 4-7, whose top two bits sit in bytes 0-7's top bits.</summary>
        private static (int Scale, int Min) ScaleMin6(ReadOnlySpan<byte> p, int s) => s < 4
            ? (p[s] & 63, p[s + 4] & 63)
            : ((p[s + 4] & 15) | (p[s - 4] >> 6) << 4, (p[s + 4] >> 4) | (p[s] >> 6) << 4);
    }

    /// <summary>
    /// ggml's own row (de)quantizers from llama.cpp's libggml-base (the build without AVX: plain C arithmetic, which is
    /// what the format defines; the AVX builds are checked against it in <see cref="Ggml_builds_agree"/>).
    /// </summary>
    internal static class Ggml
    {
        private static readonly Lazy<nint> Library = new(() => Load("noavx"));

        public static nint Load(string variant) =>
            NativeLibrary.Load(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", variant, "libggml-base.so"));

        private static string Suffix(GgmlType t) => t == GgmlType.IQ4_NL ? "iq4_nl" : t.ToString().ToLowerInvariant().Replace("_k", "_K");

        public static float[] Dequantize(GgmlType type, byte[] blocks, int count, nint? library = null)
        {
            var f = (delegate* unmanaged<byte*, float*, long, void>)NativeLibrary.GetExport(library ?? Library.Value, "dequantize_row_" + Suffix(type));
            var y = new float[count];
            fixed (byte* x = blocks) fixed (float* o = y) f(x, o, count);
            return y;
        }

        public static byte[] Quantize(GgmlType type, float[] x)
        {
            var name = type == GgmlType.IQ4_NL ? null : "quantize_row_" + Suffix(type) + "_ref";
            var blocks = new byte[x.Length / BlockSize(type) * BlockBytes(type)];
            if (name is null)
            {
                // IQ4_NL has no _ref row quantizer; ggml_quantize_chunk(type, src, dst, start, nrows, n_per_row, imatrix).
                var chunk = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)NativeLibrary.GetExport(Library.Value, "ggml_quantize_chunk");
                fixed (float* s = x) fixed (byte* d = blocks) chunk((int)type, s, d, 0, x.Length / 256, 256, null);
                return blocks;
            }
            var q = (delegate* unmanaged<float*, byte*, long, void>)NativeLibrary.GetExport(Library.Value, name);
            fixed (float* s = x) fixed (byte* d = blocks) q(s, d, x.Length);
            return blocks;
        }
    }

    [Fact]
    public void Ggml_builds_agree()
    {
        // Which AVX builds of ggml decode like the plain-C one is a fact about llama.cpp's builds, recorded here; HeadWise
        // is held to the plain-C results (the format's definition).
        var avx512 = Ggml.Load("avx512");
        foreach (var type in QuantTypes)
        {
            var blocks = RandomBlocks(type, 16, new Random(3));
            int count = blocks.Length / BlockBytes(type) * BlockSize(type);
            Assert.Equal(Ggml.Dequantize(type, blocks, count), Ggml.Dequantize(type, blocks, count, avx512));
        }
    }
}
