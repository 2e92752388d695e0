using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Models;

/// <summary>
/// The one-query attention kernel against softmax(q k^T / sqrt(d)) v written here in double precision from the same
/// values: grouped-query heads, float32 and bf16 caches, keys and values read through a view of a larger cache buffer
/// (the layout a KV cache hands over), one and two threads.
/// </summary>
public class DecodeAttentionTests
{
    [Theory]
    [InlineData(8, 2, 64, 37, false, 1)]
    [InlineData(4, 4, 16, 1, false, 1)]     // one key: the output is that value
    [InlineData(6, 3, 20, 130, true, 1)]    // d = 20: a vector block and a tail; bf16 cache
    [InlineData(8, 2, 64, 300, true, 2)]
    [InlineData(4, 2, 32, 33, true, 1)]     // one 32-wide block, an odd number of keys: the two-key loop's last key alone
    public void Matches_a_double_precision_reference(int heads, int kvHeads, int d, int s, bool bf16, int threads)
    {
        Runtime.Torch.EnsureStarted();
        int before = torch.get_num_threads();
        torch.set_num_threads(threads);
        try
        {
            using var scope = torch.NewDisposeScope();
            torch.manual_seed(heads * 100 + s);
            var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
            // Scores of a few units, so the softmax is neither flat nor one-hot.
            var q = (torch.randn(1, heads, 1, d) * 0.7).to(dtype);
            var kBuf = torch.randn(1, kvHeads, s + 9, d).to(dtype);
            var vBuf = torch.randn(1, kvHeads, s + 9, d).to(dtype);
            var k = kBuf.narrow(2, 0, s);
            var v = vBuf.narrow(2, 0, s);
            Assert.True(DecodeAttention.Applies(q, k, v));
            var z = DecodeAttention.Attend(q, k, v);
            Assert.Equal(dtype, z.dtype);
            var actual = z.to(ScalarType.Float32).data<float>().ToArray();

            var qd = q.to(ScalarType.Float64).data<double>().ToArray();
            var kd = k.to(ScalarType.Float64).contiguous().data<double>().ToArray();
            var vd = v.to(ScalarType.Float64).contiguous().data<double>().ToArray();
            double worst = 0, zMax = 0, vMax = vd.Max(Math.Abs);
            for (int h = 0; h < heads; h++)
            {
                int g = h / (heads / kvHeads);
                var p = new double[s];
                for (int j = 0; j < s; j++)
                {
                    double dot = 0;
                    for (int i = 0; i < d; i++) dot += qd[h * d + i] * kd[((long)g * s + j) * d + i];
                    p[j] = dot / Math.Sqrt(d);
                }
                double max = p.Max(), sum = 0;
                for (int j = 0; j < s; j++) sum += p[j] = Math.Exp(p[j] - max);
                for (int i = 0; i < d; i++)
                {
                    double zi = 0;
                    for (int j = 0; j < s; j++) zi += p[j] / sum * vd[((long)g * s + j) * d + i];
                    worst = Math.Max(worst, Math.Abs(actual[h * d + i] - zi));
                    zMax = Math.Max(zMax, Math.Abs(zi));
                }
            }
            // float32: a few ulps of unit-scale outputs. bf16: the attention weights are rounded to bf16 before they
            // multiply the values (each moves by up to 2^-9 of itself: at most 2^-9 max|v| in all) and so is the output
            // (2^-9 |z|).
            double bound = bf16 ? Math.Pow(2, -9) * (vMax + zMax) + 1e-5 : 1e-5;
            Assert.True(worst <= bound, $"max diff {worst:g3} (bound {bound:g3})");
        }
        finally { torch.set_num_threads(before); }
    }

    [Fact]
    public void Applies_only_to_one_query_without_autograd()
    {
        Runtime.Torch.EnsureStarted();
        using var scope = torch.NewDisposeScope();
        var k = torch.randn(1, 2, 5, 8);
        Assert.True(DecodeAttention.Applies(torch.randn(1, 4, 1, 8), k, k));
        Assert.False(DecodeAttention.Applies(torch.randn(1, 4, 2, 8), k, k));                        // prefill
        Assert.False(DecodeAttention.Applies(torch.randn(1, 4, 1, 8, requires_grad: true), k, k));   // autograd
        Assert.False(DecodeAttention.Applies(torch.randn(1, 4, 1, 8), k.to(ScalarType.Float16), k.to(ScalarType.Float16)));
    }
}
