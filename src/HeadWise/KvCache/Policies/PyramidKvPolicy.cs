using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `pyramidkv` (PyramidKV, Cai et al. 2024, "Dynamic KV Cache Compression based on Pyramidal Information Funneling"):
/// layer budgets that fall linearly with depth and keep the model's total, over a scorer (SnapKV's, as in the paper).
/// As the paper's code does, the pyramid spans the budget beyond the scorer's window (base = budget - window): the
/// last layer keeps base/<see cref="Beta"/> (paper: beta 20), the first 2 x base minus that, and when the first layer
/// would need more than the context the pyramid flattens to keep the total; every layer keeps the window on top.
/// </summary>
public sealed class PyramidKvPolicy(KvPolicy scorer, double beta) : AllocationPolicy(scorer)
{
    public static PolicyDeclaration Declaration { get; } = new("pyramidkv", "PyramidKV (Cai et al. 2024)",
        "layer budgets falling linearly with depth (same total) over a scorer, SnapKV by default",
        [PolicyParameter.Number("beta", 20, "the last layer keeps budget/beta; the paper's 20", min: 1), ScorerParameter],
        a => new PyramidKvPolicy(a.Scorer(), a.Number("beta")));

    public double Beta { get; } = beta;
    public override string Name => "pyramidkv";

    public override long Capacity(int layer, int head, long length)
    {
        long b = Budget.Tokens(layer, head, length), w = ProtectedWindow(b), baseCap = b - w, rest = length - w;
        if (baseCap >= rest) return length;
        long min = (long)Math.Floor(baseCap / Beta), max = 2 * baseCap - min;
        if (max >= rest) { max = rest; min = 2 * baseCap - max; }
        int l = Spec.Layers;
        long cap = l == 1 ? baseCap : max - layer * ((max - min) / (l - 1));
        return Math.Clamp(cap + w, Math.Min(1, length), length);
    }
}
