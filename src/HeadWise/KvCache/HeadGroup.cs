using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.KvCache;

/// <summary>
/// The K and V tensors [G, capacity, d] of the KV heads of one layer that keep the same number of positions, so that a
/// decode step attends all of them in one call over the views [G, n, d] (no copy, no padding). Heads whose counts diverge
/// are split into separate groups, so every stored row is a kept position (plus the spare rows decoding appends into).
/// </summary>
internal sealed class HeadGroup : IDisposable
{
    private readonly int _d;

    public HeadGroup(int[] heads, Tensor k, Tensor v)
    {
        Heads = heads;
        _d = (int)k.shape[2];
        K = k.DetachFromDisposeScope();
        V = v.DetachFromDisposeScope();
        Index = torch.tensor(heads.Select(h => (long)h).ToArray()).DetachFromDisposeScope();
        Local = torch.arange(heads.Length, dtype: ScalarType.Int64).DetachFromDisposeScope();
    }

    public static HeadGroup Empty(int[] heads, int d, ScalarType dtype) =>
        new(heads, torch.empty(heads.Length, 0, d, dtype: dtype), torch.empty(heads.Length, 0, d, dtype: dtype));

    /// <summary>KV head numbers, ascending.</summary>
    public int[] Heads { get; }
    public Tensor K { get; private set; }
    public Tensor V { get; private set; }
    /// <summary><see cref="Heads"/> as a tensor, and 0..G-1 (for index_select / index_put_).</summary>
    public Tensor Index { get; }
    public Tensor Local { get; }
    public long Capacity => K.shape[1];
    public bool IsAll(int kvHeads) => Heads.Length == kvHeads;

    /// <summary>Reallocates to <paramref name="capacity"/> rows, keeping the first <paramref name="used"/> (K, then V, so at most one old tensor is held twice).</summary>
    public void Resize(long capacity, int used)
    {
        K = Reallocated(K, capacity, used);
        V = Reallocated(V, capacity, used);
    }

    private Tensor Reallocated(Tensor old, long capacity, int used)
    {
        var t = torch.empty(Heads.Length, capacity, _d, dtype: old.dtype);
        if (used > 0)
            using (var d = t.narrow(1, 0, used)) using (var s = old.narrow(1, 0, used)) d.copy_(s);
        old.Dispose();
        return t.DetachFromDisposeScope();
    }

    public long AllocatedBytes => (K.numel() + V.numel()) * K.ElementSize;

    public void Dispose()
    {
        K.Dispose(); V.Dispose(); Index.Dispose(); Local.Dispose();
    }
}
