namespace HeadWise.Formats.Gguf;

/// <summary>Turns raw ggml tensor bytes into floats. Callers have already bounds-checked src and dst.</summary>
internal static unsafe class Dequantize
{
    public const int Q8_0BlockSize = 32;
    public const int Q8_0BlockBytes = 34;

    // Big tensors are split into chunks converted in parallel; small ones are not worth the scheduling.
    private const long ChunkElements = 1 << 16;
    private const long ParallelThreshold = 1 << 18;

    public static void ToFloats(GgmlType type, byte* src, float* dst, long count)
    {
        if (count < ParallelThreshold)
        {
            Convert(type, src, dst, 0, count);
            return;
        }
        var chunks = (count + ChunkElements - 1) / ChunkElements;
        nint s = (nint)src, d = (nint)dst; // pointers cannot be captured by the lambda; addresses can
        Parallel.For(0L, chunks, c =>
        {
            var start = c * ChunkElements; // a multiple of every block size (1 and 32)
            Convert(type, (byte*)s, (float*)d, start, Math.Min(ChunkElements, count - start));
        });
    }

    /// <summary>Elements [start, start+n) of the tensor; start is a multiple of the type's block size.</summary>
    private static void Convert(GgmlType type, byte* src, float* dst, long start, long n)
    {
        dst += start;
        switch (type)
        {
            case GgmlType.F32:
                Buffer.MemoryCopy(src + start * 4, dst, n * 4, n * 4);
                break;
            case GgmlType.F16:
            {
                var h = (Half*)src + start;
                for (long i = 0; i < n; i++) dst[i] = (float)h[i];
                break;
            }
            case GgmlType.BF16:
            {
                // bf16 is the top half of an IEEE float: widening is exact.
                var b = (ushort*)src + start;
                for (long i = 0; i < n; i++) dst[i] = BitConverter.UInt32BitsToSingle((uint)b[i] << 16);
                break;
            }
            case GgmlType.Q8_0:
            {
                // block: fp16 scale d, then 32 int8 quants; value = d * q.
                var p = src + start / Q8_0BlockSize * Q8_0BlockBytes;
                for (long i = 0; i < n; i += Q8_0BlockSize, p += Q8_0BlockBytes)
                {
                    var d = (float)*(Half*)p;
                    var q = (sbyte*)(p + 2);
                    var o = dst + i;
                    for (var j = 0; j < Q8_0BlockSize; j++) o[j] = d * q[j];
                }
                break;
            }
            default:
                throw new NotSupportedException($"cannot dequantise {type}");
        }
    }
}
