using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `ems` (EMS, "Adaptive Evict-then-Merge Strategy for Head-wise KV Cache Compression Based on Global-Local
/// Importance"): a slot's importance combines its global score (attention accumulated from every query so far, as a
/// share of the head's total) with its local score (attention from the last <see cref="Window"/> queries, paper-style
/// observation window of 32, as a share of their total), weighted <see cref="Alpha"/> (0.5) global; the lowest are
/// evicted, the window itself is kept, and each evicted key/value is merged into the most similar kept slot of the same
/// head (cosine of keys, weighted by cumulative attention) instead of being discarded. Weights are this project's defaults.
/// </summary>
public sealed class EmsPolicy(ModelSpec spec, KvBudget budget, int window, double alpha) : KvPolicy(spec, budget)
{
    public static PolicyDeclaration Declaration { get; } = new("ems", "EMS",
        "global + local attention scores, evicted K/V merged into the most similar kept slot (simplified: uncorrected global score, every evicted row merged; docs/fidelity.md)",
        [
            PolicyParameter.Integer("window", 32, "observation window of the local score", min: 1),
            PolicyParameter.Number("alpha", 0.5, "weight of the global score", 0, 1),
        ],
        a => new EmsPolicy(a.Spec, a.Budget, a.Integer("window"), a.Number("alpha")));

    private readonly int _window = window;
    public double Alpha { get; } = alpha;
    public override string Name => "ems";
    public override bool EvictsWhileDecoding => false;
    public override KvStats Needs => KvStats.Cumulative | KvStats.Window;
    public override int Window => _window;
    public override bool MergesEvicted => true;

    public override double[] Score(HeadView head, long length, long capacity)
    {
        var g = Required(head.Cumulative, KvStats.Cumulative);
        var l = Required(head.Window, KvStats.Window);
        double gs = 0, ls = 0;
        for (int i = 0; i < head.Count; i++) { gs += g[i]; ls += l[i]; }
        var p = new double[head.Count];
        for (int i = 0; i < p.Length; i++)
            p[i] = Alpha * (gs > 0 ? g[i] / gs : 0) + (1 - Alpha) * (ls > 0 ? l[i] / ls : 0);
        return Protect(p, head, 0, length - Math.Min(_window, capacity));
    }
}
