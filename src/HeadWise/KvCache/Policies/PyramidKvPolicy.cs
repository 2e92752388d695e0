using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `pyramidkv` (PyramidKV, Cai et al. 2024, "Dynamic KV Cache Compression based on Pyramidal Information Funneling"):
/// SnapKV selection with layer budgets that fall linearly with depth, keeping the model total. The last layer gets
/// budget/<see cref="Beta"/> (paper: beta 20), the first 2 x budget minus that.
/// </summary>
public sealed class PyramidKvPolicy(ModelSpec spec, KvBudget budget, int window = 32, int kernel = 7, double beta = 20) : SnapKvPolicy(spec, budget, window, kernel)
{
    public double Beta { get; } = beta >= 1 ? beta : throw new HeadWiseException($"pyramidkv: beta must be >= 1, got {beta}");
    public override string Name => "pyramidkv";

    public override long Capacity(int layer, int head, long length)
    {
        double b = Budget.Tokens(layer, head, length);
        double last = b / Beta, first = 2 * b - last;
        int l = Spec.Layers;
        double bl = l == 1 ? b : first - layer * (first - last) / (l - 1);
        return Math.Clamp((long)Math.Round(bl), Math.Min(1, length), length);
    }
}
