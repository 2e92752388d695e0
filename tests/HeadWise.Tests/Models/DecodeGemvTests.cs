using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Tests.Models;

/// <summary>
/// The decode-sized products against independent references: bf16 weights against libtorch's float32 product of the
/// same (widened, hence exact) weights, float32 weights against a double-precision dot product written here; equal up
/// to float32 summation order, for widths with and without a SIMD tail, one to eight rows, one or more threads.
/// </summary>
public class DecodeGemvTests
{
    [Theory]
    [InlineData(1, 768, 2048, 1)]
    [InlineData(3, 128, 300, 1)]
    [InlineData(8, 37, 65, 1)]      // no full 16/32-wide block: the scalar tail alone
    [InlineData(2, 1000, 513, 2)]   // a tail after the SIMD blocks, rows split over threads
    public void Bf16_matches_the_float32_product_of_the_widened_weights(int n, int cols, int rows, int threads) =>
        WithThreads(threads, () =>
        {
            torch.manual_seed(n * 1000 + cols);
            var w = torch.randn(rows, cols).to(ScalarType.BFloat16);
            var x = torch.randn(1, n, cols);
            var expected = F.linear(x, w.to(ScalarType.Float32));
            var actual = DecodeGemv.Linear(x, w);
            Assert.Equal(ScalarType.Float32, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            // |sum| of cols products of unit-scale numbers: rounding-order differences of a few float32 ulps of sqrt(cols).
            double max = (actual - expected).abs().max().item<float>();
            Assert.True(max <= 1e-5 * Math.Sqrt(cols) * 10, $"max diff {max:g3}");
            // libtorch's own bf16 product rounds its outputs to bf16: far coarser than the kernel's difference.
            var rounded = F.linear(x.to(ScalarType.BFloat16), w).to(ScalarType.Float32);
            Assert.True((rounded - expected).abs().max().item<float>() > 10 * max);
        });

    [Theory]
    [InlineData(1, 768, 2048, 1)]
    [InlineData(1, 2048, 768, 1)]
    [InlineData(4, 200, 130, 1)]    // 200 = 3 x 64 + 8: the 64-wide loop, then the tail
    [InlineData(8, 37, 65, 1)]
    [InlineData(2, 1000, 513, 2)]
    public void Float32_matches_a_double_precision_dot_product(int n, int cols, int rows, int threads) =>
        WithThreads(threads, () =>
        {
            torch.manual_seed(n * 7 + cols);
            var w = torch.randn(rows, cols);
            var x = torch.randn(1, n, cols);
            var actual = DecodeGemv.Linear(x, w).data<float>().ToArray();
            var wd = w.data<float>().ToArray();
            var xd = x.data<float>().ToArray();
            double worst = 0;
            for (int i = 0; i < n; i++)
                for (int r = 0; r < rows; r++)
                {
                    double dot = 0;
                    for (int c = 0; c < cols; c++) dot += (double)wd[(long)r * cols + c] * xd[(long)i * cols + c];
                    worst = Math.Max(worst, Math.Abs(actual[(long)i * rows + r] - dot));
                }
            // float32 sums of cols unit-scale products: a few ulps of sqrt(cols).
            Assert.True(worst <= 1e-6 * Math.Sqrt(cols) * 10, $"max diff {worst:g3}");
        });

    [Fact]
    public void Applies_only_to_decode_sized_inference()
    {
        Runtime.Torch.EnsureStarted();
        using var scope = torch.NewDisposeScope();
        var w = torch.randn(16, 32).to(ScalarType.BFloat16);
        Assert.True(DecodeGemv.Applies(torch.randn(1, 1, 32), w));
        Assert.True(DecodeGemv.Applies(torch.randn(1, DecodeGemv.MaxRows, 32), w));
        Assert.True(DecodeGemv.Applies(torch.randn(1, 1, 32), torch.randn(16, 32)));          // float32 weights too
        Assert.False(DecodeGemv.Applies(torch.randn(1, DecodeGemv.MaxRows + 1, 32), w));   // prefill: libtorch's GEMM
        Assert.False(DecodeGemv.Applies(torch.randn(1, 1, 32, requires_grad: true), w));  // autograd needs libtorch's op
        Assert.False(DecodeGemv.Applies(torch.randn(1, 1, 32), torch.randn(16, 32).to(ScalarType.Float16)));
    }

    private static void WithThreads(int threads, Action test)
    {
        Runtime.Torch.EnsureStarted();
        int before = torch.get_num_threads();
        torch.set_num_threads(threads);
        try
        {
            using var scope = torch.NewDisposeScope();
            test();
        }
        finally { torch.set_num_threads(before); }
    }
}
