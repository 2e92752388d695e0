using System.Globalization;
using HeadWise.Models;
using HeadWise.Steering;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Prefill;

/// <summary>
/// ProxyAttn (2025, arXiv 2509.24745): heads are pooled into proxy heads (<see cref="Pool"/> consecutive query heads
/// each, their queries and keys averaged); a proxy scores the key blocks for every query block once, at token level, from
/// the block's last <see cref="Probe"/> queries; each head gets its own budget (the share of blocks that holds
/// <see cref="Gamma"/> of its attention mass, estimated on the last query block) and attends the top blocks of its proxy's
/// ranking, plus the first block and its own. <see cref="Gamma"/> = 1 keeps every block (dense).
/// </summary>
public sealed record ProxyAttn(int Block = 128, int Pool = 4, int Probe = 16, double Gamma = 0.95) : ISparsePrefill
{
    public string Name => "proxyattn";

    public string Parameters => string.Create(CultureInfo.InvariantCulture, $"block={Block},pool={Pool},probe={Probe},gamma={Gamma}");

    private static readonly ProxyAttn Default = new();

    public static readonly IReadOnlyList<SteeringParams.Key> Keys =
    [
        new("block", $"block size in tokens ({Default.Block})", 1, 65_536, Integer: true),
        new("pool", $"query heads pooled into one proxy head ({Default.Pool})", 1, 1024, Integer: true),
        new("probe", $"last queries of each block that score the keys ({Default.Probe})", 1, 65_536, Integer: true),
        new("gamma", $"attention mass each head's budget keeps, 1 = every block ({Default.Gamma})", 0, 1, MinExclusive: true),
    ];

    public static ProxyAttn Parse(string? text)
    {
        var p = SparsePrefills.Read("proxyattn", text, Keys);
        return new ProxyAttn((int)p.Get("block", Default.Block), (int)p.Get("pool", Default.Pool), (int)p.Get("probe", Default.Probe), p.Get("gamma", Default.Gamma));
    }

    public (long[] Bounds, Tensor Selected) Select(Tensor q, Tensor k, Tensor v)
    {
        long h = q.shape[1], t = q.shape[2], s = k.shape[2], start = s - t, d = q.shape[3];
        int group = (int)(h / k.shape[1]);
        var bounds = Enumerable.Range(0, (int)((s + Block - 1) / Block) + 1).Select(i => Math.Min((long)i * Block, s)).ToArray();
        int n = bounds.Length - 1, first = (int)(start / Block), nq = n - first;
        if (Gamma >= 1) return (bounds, torch.ones(h, nq, n, ScalarType.Bool).logical_and(Causal(nq, n)));

        var qf = q[0].to_type(ScalarType.Float32);                                              // [H, T, d]
        var kf = (group == 1 ? k[0] : k[0].repeat_interleave(group, 0)).to_type(ScalarType.Float32); // [H, S, d]
        // Probe rows: the last Probe queries of each query block (absolute positions), as offsets into q.
        var probes = Enumerable.Range(first, nq).SelectMany(b => ProbeRows(bounds[b], bounds[b + 1], start)).ToArray();
        int p = probes.Length / nq;
        var rows = torch.tensor(probes);
        var keyBlock = torch.tensor(Enumerable.Range(0, (int)s).Select(j => (long)(j / Block)).ToArray());
        var visible = torch.arange(s).unsqueeze(0).le((rows + start).unsqueeze(1));                 // [nq*p, S]

        // Proxy heads: queries and keys averaged over Pool consecutive heads; token-level scores pooled into blocks.
        int proxies = (int)((h + Pool - 1) / Pool);
        var proxyOf = torch.tensor(Enumerable.Range(0, (int)h).Select(x => (long)(x / Pool)).ToArray());
        var qp = Pooled(qf.index_select(1, rows), proxyOf, proxies);                                // [G, nq*p, d]
        var kp = Pooled(kf, proxyOf, proxies);                                                       // [G, S, d]
        var proxyMass = BlockMass(qp, kp, visible, keyBlock, n, nq, p, d);                           // [G, nq, n]

        // Each head's budget: the share of the last query block's visible blocks holding Gamma of its own attention.
        var lastRows = rows.narrow(0, (nq - 1) * p, p);
        var own = BlockMass(qf.index_select(1, lastRows), kf, visible.narrow(0, (nq - 1) * p, p), keyBlock, n, 1, p, d); // [H, 1, n]
        var sorted = own.squeeze(1).sort(-1, descending: true).Values.cumsum(-1);
        using Scalar gamma = Gamma;
        var needed = sorted.lt(gamma).sum(-1).data<long>().ToArray();                               // blocks before Gamma is reached
        // Per query block i (absolute first + i): ceil(share x its visible blocks) of its proxy's top blocks.
        var budget = new long[h * nq];
        for (int head = 0; head < h; head++)
            for (int i = 0; i < nq; i++) budget[head * nq + i] = (long)Math.Ceiling((needed[head] + 1.0) / n * (first + i + 1));
        var causal = Causal(nq, n);
        var ranking = proxyMass.index_select(0, proxyOf).masked_fill(causal.logical_not().unsqueeze(0), HeldScalars.NegativeInfinity);
        var rank = ranking.argsort(-1, descending: true).argsort(-1);                                  // position of each block in its ranking
        var selected = rank.lt(torch.tensor(budget, [h, nq, 1])).logical_and(causal.unsqueeze(0));
        return (bounds, Always(selected, first, nq));
    }

    /// <summary>The last Probe positions of block [from, to) that are queries of this call, as offsets from start (repeating the last to pad).</summary>
    private IEnumerable<long> ProbeRows(long from, long to, long start)
    {
        long lo = Math.Max(from, Math.Max(start, to - Probe));
        return Enumerable.Range(0, Probe).Select(i => Math.Min(lo + i, to - 1) - start);
    }

    /// <summary>x [H, R, d] averaged within each proxy's heads → [G, R, d].</summary>
    private static Tensor Pooled(Tensor x, Tensor proxyOf, int proxies)
    {
        var sum = torch.zeros(proxies, x.shape[1], x.shape[2]).index_add(0, proxyOf, x, HeldScalars.One);
        var count = torch.zeros(proxies).index_add(0, proxyOf, torch.ones(proxyOf.shape[0]), HeldScalars.One).view(-1, 1, 1);
        return sum / count;
    }

    /// <summary>Softmax attention of probe queries over visible keys, averaged over each block's probes and summed per key block → [heads, nq, n].</summary>
    private static Tensor BlockMass(Tensor qp, Tensor kp, Tensor visible, Tensor keyBlock, int n, int nq, int p, long d)
    {
        using Scalar scale = 1.0 / Math.Sqrt(d);
        var scores = torch.matmul(qp, kp.transpose(1, 2)).mul_(scale).masked_fill(visible.logical_not().unsqueeze(0), HeldScalars.NegativeInfinity);
        var probs = F.softmax(scores, -1).view(qp.shape[0], nq, p, -1).mean([2]);                       // [G, nq, S]
        return torch.zeros(qp.shape[0], nq, n).index_add(2, keyBlock, probs, HeldScalars.One);
    }

    /// <summary>[nq, n]: key block j is visible to query block i (absolute n - nq + i) when j &lt;= it.</summary>
    internal static Tensor Causal(int nq, int n) =>
        torch.arange(n).unsqueeze(0).le(torch.arange(n - nq, n).unsqueeze(1));

    /// <summary>Adds the first segment (the sink) and each query segment's own segment to every head's selection.</summary>
    internal static Tensor Always(Tensor selected, int first, int nq)
    {
        int n = (int)selected.shape[2];
        var always = new bool[nq * n];
        for (int i = 0; i < nq; i++) { always[i * n] = true; always[i * n + first + i] = true; }
        return selected.logical_or(torch.tensor(always, [1, nq, n]));
    }
}
