using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>
/// x [N, in] (float32) times W [out, in]^T (bfloat16) for decode-sized N, with float32 outputs: each bf16 weight is
/// widened exactly (its bits are a float's upper half) and multiplied into float32 accumulators, as llama.cpp's BF16
/// dot products do. Why not libtorch: its CPU bf16 matrix-vector product rounds every output to bf16 (a logit of 16
/// moves by up to 0.06, enough to swap near-tied greedy choices) and, at decode sizes, takes as long as the float32
/// product of twice the bytes. Only for inference (no autograd): <see cref="Applies"/> says when.
/// </summary>
internal static unsafe class Bf16Gemv
{
    /// <summary>Rows of x up to which this kernel beats libtorch's bf16 GEMM (beyond, the product is compute-bound).</summary>
    public const int MaxRows = 8;

    public static bool Applies(Tensor x, Tensor weight) =>
        weight.dtype == ScalarType.BFloat16 && weight.dim() == 2 && weight.is_contiguous() &&
        !x.requires_grad && !weight.requires_grad && x.NumberOfElements / x.shape[^1] <= MaxRows;

    /// <summary>x [..., in] → [..., out] in float32.</summary>
    public static Tensor Linear(Tensor x, Tensor weight)
    {
        long rows = weight.shape[0], cols = weight.shape[1];
        var input = (x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32)).reshape(-1, cols).contiguous();
        int n = (int)input.shape[0];
        long[] outShape = [.. x.shape[..^1], rows];
        var y = torch.empty([n, rows], ScalarType.Float32);
        nint xp = Address(input), wp = Address(weight), yp = Address(y);
        int threads = Math.Max(1, torch.get_num_threads());
        // Blocks of rows big enough that a thread's share is worth scheduling (each row is cols * 2 bytes).
        long block = Math.Max(64, rows / (threads * 4));
        int blocks = (int)((rows + block - 1) / block);
        if (threads == 1 || blocks == 1)
            Rows((float*)xp, (ushort*)wp, (float*)yp, n, cols, rows, 0, rows);
        else
            Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads },
                b => Rows((float*)xp, (ushort*)wp, (float*)yp, n, cols, rows, b * block, Math.Min(rows, (b + 1) * block)));
        GC.KeepAlive(input);
        GC.KeepAlive(weight);
        return y.view(outShape);
    }

    /// <summary>Tensor.bytes is a view of a CPU tensor's own memory (see ModelWeights).</summary>
    private static nint Address(Tensor t)
    {
        fixed (byte* p = t.bytes) return (nint)p;
    }

    private static void Rows(float* x, ushort* w, float* y, int n, long cols, long rows, long from, long to)
    {
        for (long r = from; r < to; r++)
        {
            var row = w + r * cols;
            for (int i = 0; i < n; i++) y[i * rows + r] = Dot(row, x + i * cols, cols);
        }
    }

    private static float Dot(ushort* w, float* x, long n)
    {
        long i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 32)
        {
            Vector512<float> a0 = Vector512<float>.Zero, a1 = Vector512<float>.Zero;
            for (; i + 32 <= n; i += 32)
            {
                var h = Vector512.Load(w + i);
                var (lo, hi) = Vector512.Widen(h);
                a0 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(lo, 16).AsSingle(), Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(hi, 16).AsSingle(), Vector512.Load(x + i + 16), a1);
            }
            sum = Vector512.Sum(a0 + a1);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 16)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = Vector256<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var h = Vector256.Load(w + i);
                var (lo, hi) = Vector256.Widen(h);
                a0 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(lo, 16).AsSingle(), Vector256.Load(x + i), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(hi, 16).AsSingle(), Vector256.Load(x + i + 8), a1);
            }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) sum += BitConverter.Int32BitsToSingle(w[i] << 16) * x[i];
        return sum;
    }
}
