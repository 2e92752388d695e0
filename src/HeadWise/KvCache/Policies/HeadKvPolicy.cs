using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `headkv` (HeadKV, Fu et al. 2024, "Not All Heads Matter"): per-head budgets from an atlas score (HeadKV-R2's
/// retrieval-reasoning score by default; <c>score=retrieval</c> is plain HeadKV), over a scorer (SnapKV's, as in the paper). As the paper's code does, each head's base = budget - window; a share 1/<see cref="Beta"/>
/// of every base is pooled over the model and handed out in proportion to the heads' scores, the rest each head keeps:
/// capacity = round(share x pool + base - base/beta) + window. The paper sweeps beta over 1.005-10 per setting and
/// gives no single default; HeadWise uses 1.2 from that grid (5/6 of every base pooled). Query-head scores are averaged
/// over each KV group.
/// </summary>
public sealed class HeadKvPolicy : AllocationPolicy
{
    public static PolicyDeclaration Declaration { get; } = new("headkv", "HeadKV (Fu et al. 2024)",
        "per-head budgets in proportion to an atlas score, over a scorer, SnapKV by default",
        [
            PolicyParameter.Name("score", "retrieval-reasoning", "the atlas score that shares out the pool: HeadKV-R2's retrieval-reasoning, or retrieval (plain HeadKV)"),
            PolicyParameter.Number("beta", 1.2, "1/beta of every head's budget beyond the window is pooled and shared by score; the paper sweeps 1.005-10 with no single default, 1.2 is one of its values", min: 1),
            ScorerParameter,
        ],
        a => new HeadKvPolicy(a.Scorer(), a.Atlas, a.Name("score"), a.Number("beta"))) { ReadsScore = "retrieval-reasoning" };

    private readonly double[][] _share; // fraction of the pool per (layer, KV head), sums to 1

    public HeadKvPolicy(KvPolicy scorer, HeadScores atlas, string score, double beta) : base(scorer)
    {
        Beta = beta;
        var s = atlas.PerKvHead(score, Spec, "headkv").Select(r => r.Select(x => Math.Max(0, x)).ToArray()).ToArray();
        double sum = s.Sum(r => r.Sum());
        int count = Spec.Layers * Spec.KvHeads;
        _share = s.Select(r => r.Select(x => sum > 0 ? x / sum : 1.0 / count).ToArray()).ToArray();
    }

    public double Beta { get; }
    public override string Name => "headkv";

    public override long Capacity(int layer, int head, long length)
    {
        double mean = Budget.MeanTokens(Spec, length);
        long w = ProtectedWindow((long)Math.Round(mean));
        double baseCap = Math.Max(0, mean - w), pooled = Math.Floor(baseCap / Beta);
        double b = _share[layer][head] * pooled * Spec.Layers * Spec.KvHeads + baseCap - pooled + w;
        return Math.Clamp((long)Math.Round(b), Math.Min(1, length), length);
    }
}
