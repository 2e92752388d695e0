using System.Runtime.InteropServices;
using HeadWise.Formats.Gguf;
using TorchSharp;

namespace HeadWise.Tests.Formats;

/// <summary>
/// HeadWise's rounding of activations (LoadOptions.Activations = Ggml) against ggml's own row quantizers from the
/// llama.cpp library LLamaSharp runs here (libggml-cpu.so: quantize_row_q8_0 / q8_1 / q8_K, the x86 versions its dot
/// products call), their blocks decoded from the layouts in ggml-common.h: Q8_0 = fp16 d, 32 x int8; Q8_1 = fp16 d,
/// fp16 s, 32 x int8; Q8_K = float32 d, 256 x int8, 16 x int16 bsums. Each rounded value must equal d * q bit for bit.
/// </summary>
public unsafe class GgmlActivationsTests
{
    public static TheoryData<GgmlActivation> Formats => new(GgmlActivation.Q8_0, GgmlActivation.Q8_1, GgmlActivation.Q8_K);

    [Theory, MemberData(nameof(Formats))]
    public void Rounded_values_equal_ggmls_blocks_bit_for_bit(GgmlActivation format)
    {
        var x = Activations(format, new Random(5));
        var ours = x.ToArray();
        int block = GgmlActivations.BlockSize(format);
        for (int s = 0; s < ours.Length; s += block) GgmlActivations.RoundBlock(ours.AsSpan(s, block), format);

        var reference = GgmlDecoded(format, x);
        int differ = ours.Zip(reference).Count(p => BitConverter.SingleToInt32Bits(p.First) != BitConverter.SingleToInt32Bits(p.Second));
        var bad = Enumerable.Range(0, x.Length).Where(i => BitConverter.SingleToInt32Bits(ours[i]) != BitConverter.SingleToInt32Bits(reference[i])).Take(8).Select(i => $"[{i}] x={x[i]:R} ours={ours[i]:R} ggml={reference[i]:R}");
        Assert.True(differ == 0, string.Join("; ", bad) + $"; {format}: {differ} of {x.Length} rounded values differ from ggml's (first at {FirstDifference(ours, reference)})");
        // The rounding moved values (it is not the identity) by at most half a step of the block's scale.
        Assert.True(ours.Zip(x).Count(p => p.First != p.Second) > x.Length / 2);
    }

    [Fact]
    public void Tensor_rows_round_block_by_block_and_reject_partial_blocks()
    {
        var x = Activations(GgmlActivation.Q8_K, new Random(6));
        using var t = torch.tensor(x, [2, x.Length / 1024, 512]);
        using var rounded = GgmlActivations.Round(t, GgmlActivation.Q8_K, out _);
        Assert.Equal(GgmlDecoded(GgmlActivation.Q8_K, x), rounded.data<float>().ToArray());
        using var partial = torch.zeros(3, 100);
        Assert.Throws<HeadWiseException>(() => GgmlActivations.Round(partial, GgmlActivation.Q8_0, out _));
        Assert.Same(t, GgmlActivations.Round(t, GgmlActivation.None, out _));
    }

    [Fact]
    public void Weight_types_map_to_ggmls_vec_dot_types()
    {
        Assert.Equal(GgmlActivation.Q8_0, GgmlActivations.For(GgmlType.Q4_0));
        Assert.Equal(GgmlActivation.Q8_0, GgmlActivations.For(GgmlType.Q5_0));
        Assert.Equal(GgmlActivation.Q8_0, GgmlActivations.For(GgmlType.Q8_0));
        Assert.Equal(GgmlActivation.Q8_1, GgmlActivations.For(GgmlType.Q4_1));
        Assert.Equal(GgmlActivation.Q8_1, GgmlActivations.For(GgmlType.Q5_1));
        foreach (var k in new[] { GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K })
            Assert.Equal(GgmlActivation.Q8_K, GgmlActivations.For(k));
        Assert.Equal(GgmlActivation.F16, GgmlActivations.For(GgmlType.F16));
        Assert.Equal(GgmlActivation.None, GgmlActivations.For(GgmlType.F32));
    }

    private static int FirstDifference(float[] a, float[] b)
    {
        for (int i = 0; i < a.Length; i++) if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i])) return i;
        return -1;
    }

    /// <summary>
    /// 64 blocks of activations as a model has them: Gaussian rows at several scales, one with an outlier (one value
    /// sets the scale, as in real residual streams), one all zero, one whose largest magnitude is negative, and one
    /// with values on exact half steps of the quantization grid (the rounding's ties).
    /// </summary>
    private static float[] Activations(GgmlActivation format, Random rng)
    {
        int block = GgmlActivations.BlockSize(format), blocks = format == GgmlActivation.Q8_K ? 16 : 64;
        var x = new float[block * blocks];
        for (int b = 0; b < blocks; b++)
        {
            float scale = MathF.Pow(10, rng.Next(-3, 3));
            for (int i = 0; i < block; i++) x[b * block + i] = scale * (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        }
        x[block + 3] = 40;                                   // an outlier
        Array.Clear(x, 2 * block, block);                    // all zero
        x[3 * block + 5] = -50;                              // largest magnitude negative
        for (int i = 0; i < block; i++) x[4 * block + i] = i == 0 ? 127 : (i % 8 - 4) + 0.5f;   // ties: amax 127, step 1
        return x;
    }

    /// <summary>ggml's quantize_row_* on <paramref name="x"/>, each block decoded to d * q from its layout.</summary>
    private static float[] GgmlDecoded(GgmlActivation format, float[] x)
    {
        var (name, block, bytes) = format switch
        {
            GgmlActivation.Q8_0 => ("quantize_row_q8_0", 32, 34),
            GgmlActivation.Q8_1 => ("quantize_row_q8_1", 32, 36),
            _ => ("quantize_row_q8_K", 256, 292),
        };
        var blocks = new byte[x.Length / block * bytes];
        var quantize = (delegate* unmanaged<float*, byte*, long, void>)NativeLibrary.GetExport(GgmlCpu.Value, name);
        fixed (float* s = x) fixed (byte* d = blocks) quantize(s, d, x.Length);

        var y = new float[x.Length];
        for (int b = 0; b < x.Length / block; b++)
        {
            var blk = blocks.AsSpan(b * bytes, bytes);
            float d = format == GgmlActivation.Q8_K ? BitConverter.ToSingle(blk) : (float)BitConverter.ToHalf(blk);
            int qsAt = format switch { GgmlActivation.Q8_0 => 2, GgmlActivation.Q8_1 => 4, _ => 4 };
            var qs = MemoryMarshal.Cast<byte, sbyte>(blk.Slice(qsAt, block));
            for (int i = 0; i < block; i++) y[b * block + i] = d * qs[i];
            if (format == GgmlActivation.Q8_1)   // s = fp16(d * sum q), with the unrounded d: read to check the layout
            {
                float s = (float)BitConverter.ToHalf(blk[2..]);
                int sum = 0;
                foreach (var q in qs) sum += q;
                float amax = x.Skip(b * block).Take(block).Max(MathF.Abs);
                Assert.Equal((float)(Half)(amax / 127f * sum), s);
            }
            if (format == GgmlActivation.Q8_K)   // bsums: sums of 16 quants, read to check the layout
            {
                var bsums = MemoryMarshal.Cast<byte, short>(blk.Slice(4 + block, 32));
                for (int g = 0; g < 16; g++)
                {
                    int sum = 0;
                    for (int i = 0; i < 16; i++) sum += qs[g * 16 + i];
                    Assert.Equal(sum, bsums[g]);
                }
            }
        }
        return y;
    }

    /// <summary>The CPU backend llama.cpp runs on this machine (LLamaSharp picks the widest the CPU supports).</summary>
    private static readonly Lazy<nint> GgmlCpu = new(() => NativeLibrary.Load(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native",
        System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "avx512" : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "avx2" : "noavx", "libggml-cpu.so")));
}
