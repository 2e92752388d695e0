using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Tests.Models;

/// <summary>
/// The decode-sized bf16 product against libtorch's float32 product of the same (widened, hence exact) bf16 weights:
/// equal up to float32 summation order, for widths with and without a SIMD tail, one to eight rows, one or more threads.
/// </summary>
public class Bf16GemvTests
{
    [Theory]
    [InlineData(1, 768, 2048, 1)]
    [InlineData(3, 128, 300, 1)]
    [InlineData(8, 37, 65, 1)]      // no full 16/32-wide block: the scalar tail alone
    [InlineData(2, 1000, 513, 2)]   // a tail after the SIMD blocks, rows split over threads
    public void Matches_the_float32_product_of_the_widened_weights(int n, int cols, int rows, int threads)
    {
        Runtime.Torch.EnsureStarted();
        int before = torch.get_num_threads();
        torch.set_num_threads(threads);
        try
        {
            using var scope = torch.NewDisposeScope();
            torch.manual_seed(n * 1000 + cols);
            var w = torch.randn(rows, cols).to(ScalarType.BFloat16);
            var x = torch.randn(1, n, cols);
            var expected = F.linear(x, w.to(ScalarType.Float32));
            var actual = Bf16Gemv.Linear(x, w);
            Assert.Equal(ScalarType.Float32, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            // |sum| of cols products of unit-scale numbers: rounding-order differences of a few float32 ulps of sqrt(cols).
            double max = (actual - expected).abs().max().item<float>();
            Assert.True(max <= 1e-5 * Math.Sqrt(cols) * 10, $"max diff {max:g3}");
            // libtorch's own bf16 product rounds its outputs to bf16: far coarser than the kernel's difference.
            var rounded = F.linear(x.to(ScalarType.BFloat16), w).to(ScalarType.Float32);
            Assert.True((rounded - expected).abs().max().item<float>() > 10 * max);
        }
        finally { torch.set_num_threads(before); }
    }

    [Fact]
    public void Applies_only_to_decode_sized_inference_on_bf16_weights()
    {
        Runtime.Torch.EnsureStarted();
        using var scope = torch.NewDisposeScope();
        var w = torch.randn(16, 32).to(ScalarType.BFloat16);
        Assert.True(Bf16Gemv.Applies(torch.randn(1, 1, 32), w));
        Assert.True(Bf16Gemv.Applies(torch.randn(1, Bf16Gemv.MaxRows, 32), w));
        Assert.False(Bf16Gemv.Applies(torch.randn(1, Bf16Gemv.MaxRows + 1, 32), w));   // prefill: libtorch's GEMM
        Assert.False(Bf16Gemv.Applies(torch.randn(1, 1, 32, requires_grad: true), w));  // autograd needs libtorch's op
        Assert.False(Bf16Gemv.Applies(torch.randn(1, 1, 32), torch.randn(16, 32)));       // float32 weights
    }
}
