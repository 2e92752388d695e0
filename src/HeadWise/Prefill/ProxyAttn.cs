using System.Globalization;
using HeadWise.Models;
using HeadWise.Steering;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Prefill;

/// <summary>
/// ProxyAttn (Wang et al. 2025, arXiv 2509.24745, "Guided Sparse Attention via Representative Heads"), simplified
/// (docs/fidelity.md). Keys are cut into fixed blocks of <see cref="Block"/> positions. Each head's budget per query block
/// (block-aware dynamic budget): its last <see cref="Probe"/> queries of the block against the block-mean keys give a
/// coarse block distribution, and the budget is the fewest blocks holding <see cref="Gamma"/> of it, capped at
/// <see cref="Max"/> of the visible blocks. Heads whose coarse distributions are most alike are pooled, <see cref="Pool"/>
/// at a time, into proxy heads (their queries and keys averaged); a proxy scores every key at token level once per query
/// block (softmax of its probe queries, mass summed per key block). Each head attends the top blocks of its proxy's
/// ranking, as many as its budget, plus the first block (the sink), its own and the <see cref="Local"/> blocks before
/// its own (HeadWise's addition: a local window, as MInference's and NSA's patterns keep). <see cref="Blocks"/> caps the budget at a
/// number of blocks (HeadWise's addition, as FlexPrefill's and MInference's fixed budgets: the attended share then shrinks
/// as the prompt grows). <see cref="Gamma"/> = <see cref="Max"/> = 1 with no <see cref="Blocks"/> cap keeps every block (dense).
/// </summary>
public sealed record ProxyAttn(int Block = 128, int Pool = 4, int Probe = 16, double Gamma = 0.95, double Max = 1, int Blocks = 0, int Local = 0) : ISparsePrefill
{
    public string Name => "proxyattn";

    public string Parameters => string.Create(CultureInfo.InvariantCulture, $"block={Block},pool={Pool},probe={Probe},gamma={Gamma},max={Max},blocks={Blocks},local={Local}");

    private static readonly ProxyAttn Default = new();

    public static readonly IReadOnlyList<SteeringParams.Key> Keys =
    [
        new("block", $"block size in tokens ({Default.Block})", 1, 65_536, Integer: true),
        new("pool", $"similar query heads pooled into one proxy head ({Default.Pool})", 1, 1024, Integer: true),
        new("probe", $"last queries of each block that score the keys ({Default.Probe})", 1, 65_536, Integer: true),
        new("gamma", $"share of a head's estimated attention its budget covers, 1 = every block ({Default.Gamma})", 0, 1, MinExclusive: true),
        new("max", $"cap on a head's budget as a share of the visible blocks, 1 = no cap ({Default.Max})", 0, 1, MinExclusive: true),
        new("blocks", $"cap on a head's budget in blocks, the same at every length, 0 = no cap ({Default.Blocks})", 0, 1 << 20, Integer: true),
        new("local", $"blocks just before a query block's own that it always attends, besides its budget ({Default.Local})", 0, 1 << 20, Integer: true),
    ];

    public static ProxyAttn Parse(string? text)
    {
        var p = SparsePrefills.Read("proxyattn", text, Keys);
        return new ProxyAttn((int)p.Get("block", Default.Block), (int)p.Get("pool", Default.Pool), (int)p.Get("probe", Default.Probe),
            p.Get("gamma", Default.Gamma), p.Get("max", Default.Max), (int)p.Get("blocks", Default.Blocks), (int)p.Get("local", Default.Local));
    }

    public (long[] Bounds, Tensor Selected) Select(Tensor q, Tensor k, Tensor v, Rope? rope)
    {
        long h = q.shape[1], t = q.shape[2], s = k.shape[2], start = s - t, d = q.shape[3];
        int group = (int)(h / k.shape[1]);
        var bounds = Enumerable.Range(0, (int)((s + Block - 1) / Block) + 1).Select(i => Math.Min((long)i * Block, s)).ToArray();
        int n = bounds.Length - 1, first = (int)(start / Block), nq = n - first;
        if (Gamma >= 1 && Max >= 1 && Blocks == 0) return (bounds, Causal(nq, n).unsqueeze(0).expand(h, nq, n).clone());

        using var scope = torch.NewDisposeScope();
        var qf = q[0].to_type(ScalarType.Float32);                                              // [H, T, d]
        var kf = (group == 1 ? k[0] : k[0].repeat_interleave(group, 0)).to_type(ScalarType.Float32); // [H, S, d]
        // Probe rows: the last Probe queries of each query block (offsets into q), p per block.
        var probes = Enumerable.Range(first, nq).SelectMany(b => ProbeRows(bounds[b], bounds[b + 1], start)).ToArray();
        int p = probes.Length / nq;
        var rows = torch.tensor(probes);
        var qp = qf.index_select(1, rows);                                                        // [H, R, d]
        using Scalar scale = 1.0 / Math.Sqrt(d);

        // Budgets: each head's probes over the block-mean keys (blocks after the query's own are not visible).
        var lengths = torch.tensor(Enumerable.Range(0, n).Select(b => (float)(bounds[b + 1] - bounds[b])).ToArray()).view(1, n, 1);
        var blockMean = BlockSums(kf, 1, n).div_(lengths);
        var rowBlock = torch.tensor(Enumerable.Range(0, nq * p).Select(r => (long)(first + r / p)).ToArray());
        var future = torch.arange(n).unsqueeze(0).gt(rowBlock.unsqueeze(1));                     // [R, n]
        var coarse = torch.matmul(qp, blockMean.transpose(1, 2)).mul_(scale).masked_fill(future, HeldScalars.NegativeInfinity);
        var dist = F.softmax(coarse, -1).view(h, nq, p, n).mean([2]);                            // [H, nq, n]
        using Scalar gamma = Gamma;
        var budget = dist.sort(-1, descending: true).Values.cumsum(-1).lt(gamma).sum(-1).add(HeldScalars.One); // [H, nq]
        if (Max < 1 || Blocks > 0)
            budget = budget.minimum(torch.tensor(Enumerable.Range(first, nq).Select(i => Cap(i + 1)).ToArray()).unsqueeze(0));

        // Proxy heads: the most alike heads (by coarse distribution) pooled; each proxy scores keys at token level.
        var groups = Similar(F.normalize(dist.reshape(h, -1), dim: 1), Math.Min(Pool, (int)h));
        var pooling = new float[groups.Count * h];
        var proxyOf = new long[h];
        for (int g = 0; g < groups.Count; g++)
            foreach (var member in groups[g]) { pooling[g * h + member] = 1f / groups[g].Length; proxyOf[member] = g; }
        Tensor pq, pk;                                                                            // [G, R, d], [G, S, d]
        if (groups.All(m => m.Length == 1))
            (pq, pk) = (qp, kf); // one head per proxy (Similar then groups head g alone as proxy g): its own queries and keys
        else
        {
            var pool = torch.tensor(pooling, [groups.Count, h]);
            pq = torch.matmul(pool, qp.reshape(h, -1)).view(groups.Count, -1, d);
            pk = torch.matmul(pool, kf.reshape(h, -1)).view(groups.Count, s, d);
        }
        // Token-level mass per key block: each proxy's probe rows against every key they can see.
        var mass = ProxyScoreKernel.BlockMass(pq, pk, [.. probes.Select(r => r + start)], p, Block, n, (float)(1.0 / Math.Sqrt(d))); // [G, nq, n]

        var causal = Causal(nq, n);
        var ranking = mass.index_select(0, torch.tensor(proxyOf)).masked_fill(causal.logical_not().unsqueeze(0), HeldScalars.NegativeInfinity);
        var rank = ranking.sort(-1, descending: true, stable: true).Indices.argsort(-1);          // each block's place in its ranking
        var selected = rank.lt(budget.unsqueeze(-1)).logical_and(causal.unsqueeze(0));
        return (bounds, Always(selected, first, nq, Local).MoveToOuterDisposeScope());
    }

    /// <summary>The most blocks a head's budget may take of <paramref name="visible"/>: the tighter of <see cref="Max"/> (a share) and <see cref="Blocks"/> (a count).</summary>
    private long Cap(int visible)
    {
        long cap = Max < 1 ? (long)Math.Ceiling(Max * visible) : visible;
        return Blocks > 0 ? Math.Min(cap, Blocks) : cap;
    }

    /// <summary>x summed over each block of <see cref="Block"/> positions along <paramref name="dim"/> (1 or 2 of a 3-D tensor; the last block may be shorter) → n there.</summary>
    private Tensor BlockSums(Tensor x, int dim, int n)
    {
        long pad = (long)n * Block - x.shape[dim];
        var padded = pad == 0 ? x : F.pad(x, dim == 2 ? [0, pad] : [0, 0, 0, pad]);
        var shape = padded.shape.ToArray();
        shape[dim] = Block;
        return padded.view([.. shape[..dim], n, .. shape[dim..]]).sum([dim + 1]);
    }

    /// <summary>The last Probe positions of block [from, to) that are queries of this call, as offsets from start (repeating the last to pad).</summary>
    private IEnumerable<long> ProbeRows(long from, long to, long start)
    {
        long lo = Math.Max(from, Math.Max(start, to - Probe));
        return Enumerable.Range(0, Probe).Select(i => Math.Min(lo + i, to - 1) - start);
    }

    /// <summary>Greedy groups of <paramref name="size"/> heads: the first ungrouped head with the ungrouped heads most like it (rows of <paramref name="unit"/> unit-norm).</summary>
    private static List<int[]> Similar(Tensor unit, int size)
    {
        int heads = (int)unit.shape[0];
        var sim = torch.matmul(unit, unit.t()).data<float>().ToArray();
        var left = new SortedSet<int>(Enumerable.Range(0, heads));
        var groups = new List<int[]>();
        while (left.Count > 0)
        {
            int a = left.Min;
            var members = left.OrderByDescending(b => b == a ? float.PositiveInfinity : sim[a * heads + b]).ThenBy(b => b).Take(size).ToArray();
            foreach (var m in members) left.Remove(m);
            groups.Add(members);
        }
        return groups;
    }

    /// <summary>[nq, n]: key block j is visible to query block i (absolute n - nq + i) when j &lt;= it.</summary>
    internal static Tensor Causal(int nq, int n) =>
        torch.arange(n).unsqueeze(0).le(torch.arange(n - nq, n).unsqueeze(1));

    /// <summary>Adds the first segment (the sink), each query segment's own segment and the <paramref name="local"/> segments before it to every head's selection.</summary>
    internal static Tensor Always(Tensor selected, int first, int nq, int local = 0)
    {
        int n = (int)selected.shape[2];
        var always = new bool[nq * n];
        for (int i = 0; i < nq; i++)
        {
            always[i * n] = true;
            for (int j = Math.Max(0, first + i - local); j <= first + i; j++) always[i * n + j] = true;
        }
        return selected.logical_or(torch.tensor(always, [1, nq, n]));
    }
}
