using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>`full`: every head keeps every position (the baseline; attention goes through the same fused kernel as the model's).</summary>
public sealed class FullPolicy(ModelSpec spec) : KvPolicy(spec, KvBudget.All)
{
    public override string Name => "full";
    public override long Capacity(int layer, int head, long length) => length;
    public override int[]?[] Evictions(LayerView layer) => new int[]?[layer.Heads.Length];
}
