using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.KvCache;

/// <summary>
/// One layer of a <see cref="HeadWiseKvCache"/>: per KV head its slots (<see cref="HeadSlots"/>), stored in
/// <see cref="HeadGroup"/>s of heads that keep the same number of positions. Decode steps write each new row into the
/// slot the last eviction freed (no shifting, no reallocation); prefill chunks regroup into exact-size tensors.
/// </summary>
internal sealed class LayerStore : IDisposable
{
    private readonly int _d;
    private (HeadGroup Group, int Local)[] _where;

    public LayerStore(int kvHeads, int d, bool cumulative, ScalarType dtype)
    {
        _d = d;
        Heads = Enumerable.Range(0, kvHeads).Select(_ => new HeadSlots(cumulative)).ToArray();
        Groups = [HeadGroup.Empty(Enumerable.Range(0, kvHeads).ToArray(), d, dtype)];
        _where = Locate(Groups, kvHeads);
    }

    public HeadSlots[] Heads { get; }
    public List<HeadGroup> Groups { get; private set; }

    /// <summary>Rows [0, Used) of KV head <paramref name="h"/> as views [Used, d].</summary>
    public (Tensor K, Tensor V) Rows(int h)
    {
        var (g, i) = _where[h];
        int n = Heads[h].Used;
        return (g.K[i].narrow(0, 0, n), g.V[i].narrow(0, 0, n));
    }

    /// <summary>Decode: writes k, v [G, 1, d] into each head's next slot of <paramref name="g"/> (growing by an eighth when full).</summary>
    public void AppendStep(HeadGroup g, Tensor k, Tensor v, long position)
    {
        var slots = g.Heads.Select(h => (long)Heads[h].NextSlot).ToArray();
        long max = slots.Max();
        if (max >= g.Capacity)
        {
            int used = g.Heads.Max(h => Heads[h].Used);
            long cap = Math.Max(max + 1, used + used / 8 + 16);
            g.Resize(cap, used);
            foreach (var h in g.Heads) Heads[h].EnsureArrays(cap);
        }
        if (slots.All(s => s == slots[0]))
        {
            using (var dk = g.K.narrow(1, slots[0], 1)) dk.copy_(k);
            using (var dv = g.V.narrow(1, slots[0], 1)) dv.copy_(v);
        }
        else
        {
            using var at = torch.tensor(slots);
            g.K.index_put_(k.squeeze(1), g.Local, at);
            g.V.index_put_(v.squeeze(1), g.Local, at);
        }
        foreach (var h in g.Heads) Heads[h].Filled(position);
    }

    /// <summary>
    /// Decode: drops the evicted slots. One eviction becomes the head's hole (the next row is written there); more move
    /// the last rows into the holes. Heads whose counts now differ from their group's are split into their own groups.
    /// </summary>
    public void EvictStep(int[]?[] evictions)
    {
        for (int h = 0; h < Heads.Length; h++)
        {
            if (evictions[h] is not { Length: > 0 } ev) continue;
            var s = Heads[h];
            if (ev.Length == 1) { if (ev[0] == s.Used - 1) s.Used--; else s.Hole = ev[0]; continue; }
            MoveIntoHoles(h, ev);
        }
        if (Groups.Any(g => g.Heads.Select(h => Heads[h].Count).Distinct().Count() > 1)) Split();
    }

    /// <summary>Before a prefill chunk: each hole takes the head's last row, so rows [0, Used) are all kept.</summary>
    public void CloseHoles()
    {
        for (int h = 0; h < Heads.Length; h++)
        {
            var s = Heads[h];
            if (s.Hole < 0) continue;
            MoveIntoHoles(h, [s.Hole]);
            s.Hole = -1;
        }
    }

    /// <summary>Prefill: appends k, v [KvH, T, d] at positions start.. to every head (exact-size growth).</summary>
    public void AppendChunk(Tensor k, Tensor v, long start)
    {
        int t = (int)k.shape[1];
        foreach (var g in Groups)
        {
            int used = Heads[g.Heads[0]].Used;
            g.Resize(used + t, used);
            bool all = g.IsAll(Heads.Length);
            using (var dk = g.K.narrow(1, used, t)) dk.copy_(all ? k : k.index_select(0, g.Index));
            using (var dv = g.V.narrow(1, used, t)) dv.copy_(all ? v : v.index_select(0, g.Index));
            foreach (var h in g.Heads)
            {
                var s = Heads[h];
                s.EnsureArrays(used + t);
                for (int i = 0; i < t; i++) s.Filled(start + i);
            }
        }
    }

    /// <summary>After a prefill chunk: drops the evicted slots and regroups heads by kept count into exact-size tensors.</summary>
    public void Regroup(int[]?[] evictions)
    {
        bool exact = evictions.All(e => e is not { Length: > 0 }) && Heads.All(s => s.Hole < 0) &&
                     Groups.All(g => g.Capacity == Heads[g.Heads[0]].Used && g.Heads.All(h => Heads[h].Used == Heads[g.Heads[0]].Used));
        if (exact) return;
        var kept = new int[Heads.Length][];
        for (int h = 0; h < Heads.Length; h++)
        {
            var gone = new HashSet<int>(evictions[h] ?? []);
            kept[h] = Heads[h].KeptSlots().Where(i => !gone.Contains(i)).ToArray();
        }
        var groups = new List<HeadGroup>();
        foreach (var heads in Enumerable.Range(0, Heads.Length).GroupBy(h => kept[h].Length).Select(x => x.ToArray()))
        {
            var ks = new Tensor[heads.Length];
            var vs = new Tensor[heads.Length];
            for (int j = 0; j < heads.Length; j++)
            {
                var (g, i) = _where[heads[j]];
                using var idx = torch.tensor(kept[heads[j]].Select(x => (long)x).ToArray());
                ks[j] = g.K[i].index_select(0, idx);
                vs[j] = g.V[i].index_select(0, idx);
            }
            groups.Add(new HeadGroup(heads, torch.stack(ks), torch.stack(vs)));
        }
        for (int h = 0; h < Heads.Length; h++)
        {
            var s = Heads[h];
            s.Positions = kept[h].Select(i => s.Positions[i]).ToArray();
            if (s.Cumulative is not null) s.Cumulative = kept[h].Select(i => s.Cumulative[i]).ToArray();
            s.Used = kept[h].Length;
            s.Hole = -1;
        }
        Replace(groups);
    }

    /// <summary>
    /// Before <paramref name="evict"/> leaves head h: each evicted row is averaged into the kept row whose key is most
    /// similar (cosine), weighted by their cumulative attention (equal weights when both are 0); the kept slot inherits
    /// the evicted slot's attention.
    /// </summary>
    public void MergeEvicted(int h, int[] evict)
    {
        var s = Heads[h];
        var gone = new HashSet<int>(evict);
        var kept = s.KeptSlots().Where(i => !gone.Contains(i)).ToArray();
        if (kept.Length == 0 || evict.Length == 0) return;
        using var scope = torch.NewDisposeScope();
        var (kh, vh) = Rows(h);
        var ke = kh.index_select(0, torch.tensor(evict.Select(i => (long)i).ToArray()));
        var kk = kh.index_select(0, torch.tensor(kept.Select(i => (long)i).ToArray()));
        var sim = torch.matmul(torch.nn.functional.normalize(ke, dim: 1), torch.nn.functional.normalize(kk, dim: 1).t());
        var best = sim.argmax(1).data<long>().ToArray();
        for (int m = 0; m < evict.Length; m++)
        {
            int e = evict[m], j = kept[best[m]];
            double we = s.Cumulative?[e] ?? 0, wj = s.Cumulative?[j] ?? 0;
            double a = we + wj > 0 ? we / (we + wj) : 0.5;
            // Scalars held by name until both calls return (a temporary one can be freed mid-call; see HeldScalars).
            using Scalar keep = 1 - a, take = a;
            foreach (var t in new[] { kh, vh })
            {
                var row = t[j];
                row.mul_(keep).add_(t[e], alpha: take);
            }
            if (s.Cumulative is not null) s.Cumulative[j] += we;
        }
    }

    /// <summary>Closes holes and drops spare rows.</summary>
    public void Compact()
    {
        CloseHoles();
        foreach (var g in Groups)
        {
            int used = Heads[g.Heads[0]].Used;
            if (g.Capacity != used) g.Resize(used, used);
        }
    }

    public long AllocatedBytes => Groups.Sum(g => g.AllocatedBytes);

    /// <summary>Moves head h's last non-evicted rows into the evicted slots below the new count.</summary>
    private void MoveIntoHoles(int h, int[] evict)
    {
        var s = Heads[h];
        var gone = new bool[s.Used];
        foreach (var i in evict) gone[i] = true;
        int keep = s.Used - evict.Length;
        var holes = evict.Where(i => i < keep).OrderBy(i => i).ToArray();
        var sources = Enumerable.Range(keep, s.Used - keep).Where(i => !gone[i]).ToArray();
        if (holes.Length > 0)
        {
            var (g, local) = _where[h];
            using var dst = torch.tensor(holes.Select(i => (long)i).ToArray());
            using var src = torch.tensor(sources.Select(i => (long)i).ToArray());
            using var kh = g.K[local];
            using var vh = g.V[local];
            using (var rows = kh.index_select(0, src)) kh.index_copy_(0, dst, rows);
            using (var rows = vh.index_select(0, src)) vh.index_copy_(0, dst, rows);
            for (int j = 0; j < holes.Length; j++)
            {
                s.Positions[holes[j]] = s.Positions[sources[j]];
                if (s.Cumulative is not null) s.Cumulative[holes[j]] = s.Cumulative[sources[j]];
            }
        }
        s.Used = keep;
    }

    /// <summary>Splits groups whose heads' counts diverged (copies those heads' rows once).</summary>
    private void Split()
    {
        var groups = new List<HeadGroup>();
        foreach (var g in Groups)
        {
            var parts = g.Heads.Select((h, i) => (h, i)).GroupBy(x => Heads[x.h].Count).ToArray();
            if (parts.Length == 1) { groups.Add(g); continue; }
            foreach (var part in parts)
            {
                using var idx = torch.tensor(part.Select(x => (long)x.i).ToArray());
                groups.Add(new HeadGroup(part.Select(x => x.h).ToArray(), g.K.index_select(0, idx), g.V.index_select(0, idx)));
            }
            g.Dispose();
        }
        Groups = groups;
        _where = Locate(Groups, Heads.Length);
    }

    private void Replace(List<HeadGroup> groups)
    {
        foreach (var g in Groups) g.Dispose();
        Groups = groups;
        _where = Locate(Groups, Heads.Length);
    }

    private static (HeadGroup, int)[] Locate(List<HeadGroup> groups, int kvHeads)
    {
        var where = new (HeadGroup, int)[kvHeads];
        foreach (var g in groups)
            for (int i = 0; i < g.Heads.Length; i++) where[g.Heads[i]] = (g, i);
        return where;
    }

    public void Dispose()
    {
        foreach (var g in Groups) g.Dispose();
    }
}
