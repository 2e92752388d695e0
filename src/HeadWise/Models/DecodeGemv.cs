using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using HeadWise.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>
/// x [N, in] (float32) times W [out, in]^T (bfloat16 or float32) for decode-sized N, with float32 outputs: one weight row
/// at a time, a single sequential stream through the matrix at memory speed (four rows per pass, sharing x's loads,
/// measured slower: four interleaved streams). A bf16 weight is widened exactly (its bits are a float's upper half) and
/// multiplied into float32 accumulators, as llama.cpp's BF16 dot products do. Why not libtorch: its CPU bf16
/// matrix-vector product rounds every output to bf16 (a logit of 16 moves by up to 0.06, enough to swap near-tied
/// greedy choices) and costs as much as the float32 product of twice the bytes; its float32 one took ~1.4x this kernel's
/// time at one thread (27 vs 19 ms per step of the ~110M model). Only for inference (no autograd): <see cref="Applies"/> says when.
/// </summary>
internal static unsafe class DecodeGemv
{
    /// <summary>Rows of x up to which this kernel beats libtorch's GEMM (beyond, the product is compute-bound).</summary>
    public const int MaxRows = 8;

    public static bool Applies(Tensor x, Tensor weight) =>
        (weight.dtype == ScalarType.BFloat16 || weight.dtype == ScalarType.Float32) &&
        (x.dtype == ScalarType.Float32 || x.dtype == ScalarType.BFloat16) && weight.dim() == 2 && weight.is_contiguous() &&
        weight.device_type == DeviceType.CPU && !x.requires_grad && !weight.requires_grad && x.NumberOfElements / x.shape[^1] <= MaxRows;

    /// <summary>x [..., in] → [..., out] in float32.</summary>
    public static Tensor Linear(Tensor x, Tensor weight)
    {
        long rows = weight.shape[0], cols = weight.shape[1];
        var input = (x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32)).reshape(-1, cols).contiguous();
        int n = (int)input.shape[0];
        long[] outShape = [.. x.shape[..^1], rows];
        var y = torch.empty([n, rows], ScalarType.Float32);
        Multiply(TensorMemory.Address<float>(input), n, TensorMemory.Address<byte>(weight), weight.dtype == ScalarType.BFloat16, rows, cols,
            TensorMemory.Address<float>(y));
        GC.KeepAlive(input);
        GC.KeepAlive(weight);
        return y.view(outShape);
    }

    /// <summary>y [n, rows] = x [n, cols] times w [rows, cols]^T (bf16 or float32), all float32 but w.</summary>
    internal static void Multiply(float* x, int n, void* w, bool bf16, long rows, long cols, float* y)
    {
        int threads = Math.Max(1, torch.get_num_threads());
        // Blocks of rows big enough that a thread's share is worth scheduling.
        long block = Math.Max(64, rows / (threads * 4));
        int blocks = (int)((rows + block - 1) / block);
        if (threads == 1 || blocks == 1) Rows(x, w, bf16, y, n, cols, rows, 0, rows);
        else
            Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads },
                b => Rows(x, w, bf16, y, n, cols, rows, b * block, Math.Min(rows, (b + 1) * block)));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(float* x, void* w, bool bf16, float* y, int n, long cols, long rows, long from, long to)
    {
        for (long r = from; r < to; r++)
            for (int i = 0; i < n; i++)
                y[i * rows + r] = bf16 ? Dot((ushort*)w + r * cols, x + i * cols, cols) : Dot((float*)w + r * cols, x + i * cols, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(ushort* w, float* x, long n)
    {
        long i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 32)
        {
            Vector512<float> a0 = Vector512<float>.Zero, a1 = Vector512<float>.Zero;
            for (; i + 32 <= n; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(w + i));
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
                var (lo, hi) = Vector256.Widen(Vector256.Load(w + i));
                a0 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(lo, 16).AsSingle(), Vector256.Load(x + i), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(hi, 16).AsSingle(), Vector256.Load(x + i + 8), a1);
            }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) sum += BitConverter.Int32BitsToSingle(w[i] << 16) * x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(float* w, float* x, long n)
    {
        long i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 64)
        {
            // Four sums, so that the additions of one do not wait on the last.
            Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (; i + 64 <= n; i += 64)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i), Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i + 16), Vector512.Load(x + i + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i + 32), Vector512.Load(x + i + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i + 48), Vector512.Load(x + i + 48), a3);
            }
            sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 32)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (; i + 32 <= n; i += 32)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(w + i), Vector256.Load(x + i), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Load(w + i + 8), Vector256.Load(x + i + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Load(w + i + 16), Vector256.Load(x + i + 16), a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Load(w + i + 24), Vector256.Load(x + i + 24), a3);
            }
            sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < n; i++) sum += w[i] * x[i];
        return sum;
    }
}
