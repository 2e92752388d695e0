using System.Runtime.Intrinsics;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Models;

/// <summary>
/// The bf16 helpers of the decode kernels: widening 16 pairs by shift and mask gives exactly the even and odd elements
/// (a bf16 is a float's upper half, checked against the bits by hand), the float32 layout that matches them, and the
/// rounding to bf16 against libtorch's own cast (ties, NaN, infinities, the vector body and its scalar tail).
/// </summary>
public unsafe class Bf16OrderTests
{
    [Fact]
    public void Evens_and_odds_of_a_block_are_its_elements_exactly()
    {
        var rng = new Random(7);
        var bits = Enumerable.Range(0, Bf16Order.Block).Select(_ => (ushort)rng.Next(0, 0x7F80)).ToArray(); // finite, either sign
        for (int i = 1; i < bits.Length; i += 3) bits[i] |= 0x8000;
        fixed (ushort* p = bits)
        {
            var pairs = Vector512.Load((uint*)p);
            var evens = Bf16Order.Evens(pairs);
            var odds = Bf16Order.Odds(pairs);
            for (int m = 0; m < Bf16Order.Block / 2; m++)
            {
                Assert.Equal(BitConverter.Int32BitsToSingle(bits[2 * m] << 16), evens[m]);
                Assert.Equal(BitConverter.Int32BitsToSingle(bits[2 * m + 1] << 16), odds[m]);
            }
        }
    }

    [Fact]
    public void Split_puts_each_blocks_evens_then_odds_and_merge_undoes_it()
    {
        var x = Enumerable.Range(0, 3 * Bf16Order.Block).Select(i => (float)i).ToArray();
        var split = new float[x.Length];
        var back = new float[x.Length];
        fixed (float* xp = x) fixed (float* sp = split) fixed (float* bp = back)
        {
            Bf16Order.Split(xp, sp, x.Length);
            Bf16Order.Merge(sp, bp, x.Length);
        }
        for (int b = 0; b < x.Length; b += Bf16Order.Block)
            for (int m = 0; m < Bf16Order.Block / 2; m++)
            {
                Assert.Equal(b + 2 * m, split[b + m]);
                Assert.Equal(b + 2 * m + 1, split[b + Bf16Order.Block / 2 + m]);
            }
        Assert.Equal(x, back);
    }

    [Fact]
    public void Rounding_matches_libtorchs_cast_to_bf16()
    {
        Runtime.Torch.EnsureStarted();
        var rng = new Random(11);
        var special = new[]
        {
            1f + MathF.Pow(2, -8),      // halfway between 1 and 1 + 2^-7: ties to the even 1
            1f + 3 * MathF.Pow(2, -8),  // halfway between 1 + 2^-7 and 1 + 2^-6: ties to the even 1 + 2^-6
            -(1f + MathF.Pow(2, -8)), 1f + MathF.Pow(2, -8) + MathF.Pow(2, -20), float.NaN, float.PositiveInfinity,
            float.NegativeInfinity, float.MaxValue, 0f, -0f, float.Epsilon,
        };
        // 8-wide body and scalar tail alike: 61 values.
        var values = special.Concat(Enumerable.Range(0, 50).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-30, 30))))).ToArray();
        var expected = torch.tensor(values).to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray();
        var actual = values.ToArray();
        fixed (float* p = actual) Bf16Order.Round(p, actual.Length);
        for (int i = 0; i < values.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(expected[i]) == BitConverter.SingleToUInt32Bits(actual[i]) || float.IsNaN(expected[i]) && float.IsNaN(actual[i]),
                $"{values[i]:R}: libtorch {expected[i]:R}, kernel {actual[i]:R}");
    }
}
