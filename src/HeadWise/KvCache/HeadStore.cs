using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.KvCache;

/// <summary>
/// One KV head's kept keys and values: K, V [capacity, d] whose first <see cref="Count"/> rows are in use, in no
/// particular order (attention does not care), with each row's original position (keys keep their RoPE) and statistics.
/// </summary>
internal sealed class HeadStore : IDisposable
{
    private readonly int _d;
    private Tensor _k, _v;

    public HeadStore(int d, bool cumulative)
    {
        _d = d;
        _k = torch.empty(0, d).DetachFromDisposeScope();
        _v = torch.empty(0, d).DetachFromDisposeScope();
        Positions = [];
        Cumulative = cumulative ? [] : null;
    }

    public int Count { get; private set; }
    public long Capacity => _k.shape[0];
    public long[] Positions { get; private set; }
    public double[]? Cumulative { get; private set; }

    /// <summary>Rows in use.</summary>
    public Tensor K => _k.narrow(0, 0, Count);
    public Tensor V => _v.narrow(0, 0, Count);

    /// <summary>Appends k, v [T, d] at positions start..start+T-1, growing by an eighth when full (amortised decode appends).</summary>
    public void Append(Tensor k, Tensor v, long start)
    {
        int t = (int)k.shape[0];
        if (Count + t > Capacity) Resize(Math.Max(Count + t, Count + Count / 8 + 16));
        using (var dk = _k.narrow(0, Count, t)) dk.copy_(k);
        using (var dv = _v.narrow(0, Count, t)) dv.copy_(v);
        for (int i = 0; i < t; i++) Positions[Count + i] = start + i;
        if (Cumulative is not null) Array.Clear(Cumulative, Count, t);
        Count += t;
    }

    /// <summary>Adds this step's attention per slot (length Count) to the cumulative statistic.</summary>
    public void Accumulate(float[] attention)
    {
        if (Cumulative is null) return;
        for (int i = 0; i < Count; i++) Cumulative[i] += attention[i];
    }

    /// <summary>
    /// Drops the slots in <paramref name="evict"/>. Few evictions move the last kept rows into the holes (no reallocation);
    /// many, or <paramref name="compact"/>, copy the kept rows into exact-size tensors.
    /// </summary>
    public void Evict(int[] evict, bool compact)
    {
        if (evict.Length == 0) { if (compact && Capacity != Count) Resize(Count); return; }
        var gone = new bool[Count];
        foreach (var i in evict) gone[i] = true;
        int keep = Count - evict.Length;
        if (compact || evict.Length * 4 > Count)
        {
            var kept = Enumerable.Range(0, Count).Where(i => !gone[i]).ToArray();
            using var idx = torch.tensor(kept.Select(i => (long)i).ToArray());
            Replace(_k.index_select(0, idx), _v.index_select(0, idx));
            Positions = Pick(Positions, kept, keep);
            if (Cumulative is not null) Cumulative = Pick(Cumulative, kept, keep);
        }
        else
        {
            var holes = evict.Where(i => i < keep).OrderBy(i => i).ToArray();
            var sources = Enumerable.Range(keep, Count - keep).Where(i => !gone[i]).ToArray();
            if (holes.Length > 0)
            {
                using var dst = torch.tensor(holes.Select(i => (long)i).ToArray());
                using var src = torch.tensor(sources.Select(i => (long)i).ToArray());
                using (var rows = _k.index_select(0, src)) _k.index_copy_(0, dst, rows);
                using (var rows = _v.index_select(0, src)) _v.index_copy_(0, dst, rows);
                for (int j = 0; j < holes.Length; j++)
                {
                    Positions[holes[j]] = Positions[sources[j]];
                    if (Cumulative is not null) Cumulative[holes[j]] = Cumulative[sources[j]];
                }
            }
        }
        Count = keep;
    }

    /// <summary>Reallocates to exactly <paramref name="capacity"/> rows, keeping the rows in use.</summary>
    public void Resize(long capacity)
    {
        var k = torch.empty(capacity, _d);
        var v = torch.empty(capacity, _d);
        if (Count > 0)
        {
            using (var d = k.narrow(0, 0, Count)) using (var s = _k.narrow(0, 0, Count)) d.copy_(s);
            using (var d = v.narrow(0, 0, Count)) using (var s = _v.narrow(0, 0, Count)) d.copy_(s);
        }
        Replace(k, v);
        var pos = new long[capacity];
        Array.Copy(Positions, pos, Count);
        Positions = pos;
        if (Cumulative is not null)
        {
            var c = new double[capacity];
            Array.Copy(Cumulative, c, Count);
            Cumulative = c;
        }
    }

    private void Replace(Tensor k, Tensor v)
    {
        _k.Dispose();
        _v.Dispose();
        _k = k.DetachFromDisposeScope();
        _v = v.DetachFromDisposeScope();
    }

    private static T[] Pick<T>(T[] a, int[] kept, int n)
    {
        var r = new T[n];
        for (int j = 0; j < n; j++) r[j] = a[kept[j]];
        return r;
    }

    /// <summary>Bytes the K and V tensors hold (capacity).</summary>
    public long AllocatedBytes => (_k.numel() + _v.numel()) * _k.ElementSize;

    public long ElementSize => _k.ElementSize;

    public void Dispose()
    {
        _k.Dispose();
        _v.Dispose();
    }
}
