using TorchSharp;

namespace HeadWise.Runtime;

/// <summary>
/// Tensors that the decode kernels stream once per token, allocated as one block whose interior the kernel backs with
/// transparent huge pages (2 MB) when it can. Why: libtorch gives each tensor its own mapping, on 4 KB pages below
/// 2 MB, and on this project's VMs every 4 KB page streamed is a TLB miss (a two-level walk under virtualisation) and a
/// stop for the hardware prefetcher: one thread's bf16 products of a ~110M decode step took 8.4 ms from a huge-page
/// block against 11.7 from libtorch's allocations in a quiet spell, 9.3 against 10.0 in a busy one (docs/benchmarks.md,
/// "Decode at 16 bits"). Without THP (or off Linux) the block is ordinary memory.
/// </summary>
internal static unsafe class HugePages
{
    // Elements between tensors are padded to 64 bytes, so every tensor starts on a cache line.
    private const long Alignment = 64;

    /// <summary>
    /// Contiguous tensors of <paramref name="dtype"/> and the given shapes, views into one block: each disposes as usual
    /// (the block is freed with the last of them). The memory is uninitialised.
    /// </summary>
    public static torch.Tensor[] Block(IReadOnlyList<long[]> shapes, torch.ScalarType dtype)
    {
        if (shapes.Count == 0) return [];
        long elementSize = dtype switch
        {
            torch.ScalarType.Float32 => 4,
            torch.ScalarType.BFloat16 or torch.ScalarType.Float16 => 2,
            _ => throw new ArgumentException($"no huge-page block for {dtype}", nameof(dtype)),
        };
        long step = Alignment / elementSize;
        var sizes = shapes.Select(shape => shape.Aggregate(1L, (a, b) => a * b)).ToArray();
        var offsets = new long[shapes.Count];
        long total = 0;
        for (int i = 0; i < shapes.Count; i++)
        {
            offsets[i] = total;
            total += (sizes[i] + step - 1) / step * step;
        }
        using var block = torch.empty(total, dtype);
        PageAdvice.Inside(TensorMemory.Address<byte>(block), total * elementSize, 2 << 20, PageAdvice.HugePage); // before any page is touched
        var tensors = new torch.Tensor[shapes.Count];
        for (int i = 0; i < shapes.Count; i++)
        {
            using var flat = block.narrow(0, offsets[i], sizes[i]);
            tensors[i] = flat.view(shapes[i]);
        }
        return tensors;
    }
}
