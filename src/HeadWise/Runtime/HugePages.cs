using System.Runtime.InteropServices;
using TorchSharp;

namespace HeadWise.Runtime;

/// <summary>
/// Tensors that the decode kernels stream once per token, allocated as one block whose interior the kernel backs with
/// transparent huge pages (2 MB) when it can. Why: on this project's VMs a one-thread pass over the ~110M model's
/// weights read at ~22 GB/s in libtorch's allocations (4 KB pages for every tensor under 2 MB, each its own mapping)
/// and at ~30 GB/s from one huge-page block (docs/benchmarks.md, "Decode at 16 bits"): every 4 KB page is a TLB miss
/// (a two-level walk under virtualisation) and a stop for the hardware prefetcher. Without THP (or off Linux) the
/// block is ordinary memory.
/// </summary>
internal static unsafe partial class HugePages
{
    private const long Page = 2 << 20;
    private const int MadvHugePage = 14;

    // Elements between tensors are padded to 64 bytes, so every tensor starts on a cache line.
    private const long Alignment = 64;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);

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
        var offsets = new long[shapes.Count];
        long total = 0;
        for (int i = 0; i < shapes.Count; i++)
        {
            offsets[i] = total;
            total += (shapes[i].Aggregate(1L, (a, b) => a * b) + step - 1) / step * step;
        }
        using var block = torch.empty(total, dtype);
        Advise(TensorMemory.Address<byte>(block), total * elementSize);
        var tensors = new torch.Tensor[shapes.Count];
        for (int i = 0; i < shapes.Count; i++)
        {
            using var flat = block.narrow(0, offsets[i], shapes[i].Aggregate(1L, (a, b) => a * b));
            tensors[i] = flat.view(shapes[i]);
        }
        return tensors;
    }

    /// <summary>Asks for huge pages over the whole 2 MB pages inside [start, start + bytes) (before they are touched).</summary>
    private static void Advise(byte* start, long bytes)
    {
        if (!OperatingSystem.IsLinux()) return;
        long from = ((long)start + Page - 1) & ~(Page - 1), to = ((long)start + bytes) & ~(Page - 1);
        if (to > from) _ = Madvise((nint)from, (nuint)(to - from), MadvHugePage); // advice only: a refusal leaves 4 KB pages
    }
}
