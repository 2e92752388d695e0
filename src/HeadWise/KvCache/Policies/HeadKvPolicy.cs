using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `headkv` (HeadKV, Fu et al. 2024, "Not All Heads Matter"): per-head budgets from the atlas score
/// <c>retrieval</c> (or any named score). Each head keeps (1 - 1/<see cref="Beta"/>) of the budget; the rest, pooled over
/// the model, is shared in proportion to the scores. Within a head, SnapKV selection. Beta 2 here (half of the budget
/// shared) is this project's default, not a value taken from the paper.
/// </summary>
public sealed class HeadKvPolicy : SnapKvPolicy
{
    private readonly double[][] _share; // fraction of the pool per (layer, KV head), sums to 1

    public HeadKvPolicy(ModelSpec spec, KvBudget budget, HeadScores atlas, string score = "retrieval", double beta = 2, int window = 32, int kernel = 7)
        : base(spec, budget, window, kernel)
    {
        if (beta < 1) throw new HeadWiseException($"headkv: beta must be >= 1, got {beta}");
        Beta = beta;
        var s = atlas.PerKvHead(score, spec, "headkv").Select(r => r.Select(x => Math.Max(0, x)).ToArray()).ToArray();
        double sum = s.Sum(r => r.Sum());
        int count = spec.Layers * spec.KvHeads;
        _share = s.Select(r => r.Select(x => sum > 0 ? x / sum : 1.0 / count).ToArray()).ToArray();
    }

    public double Beta { get; }
    public override string Name => "headkv";

    public override long Capacity(int layer, int head, long length)
    {
        double mean = Budget.MeanTokens(Spec, length);
        double pool = mean / Beta * Spec.Layers * Spec.KvHeads;
        double b = mean * (1 - 1 / Beta) + pool * _share[layer][head];
        return Math.Clamp((long)Math.Round(b), Math.Min(1, length), length);
    }
}
