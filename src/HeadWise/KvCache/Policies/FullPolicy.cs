using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `full`: every head keeps every position (the baseline). Its cache is the plain <see cref="FullKvCache"/> wherever a
/// policy is named (generate, bench, sweep); through a <see cref="HeadWiseKvCache"/> it gives the same logits bit for bit.
/// </summary>
public sealed class FullPolicy(ModelSpec spec) : KvPolicy(spec, KvBudget.All)
{
    public static PolicyDeclaration Declaration { get; } = new("full", "no compression", "every position (the baseline every policy is compared with)", [],
        a => new FullPolicy(a.Spec)) { TakesBudget = false };

    public override string Name => "full";
    public override bool EvictsWhileDecoding => false;
    public override long Capacity(int layer, int head, long length) => length;
    public override int[]?[] Evictions(LayerView layer) => new int[]?[layer.Heads.Length];
    public override IKvCache CreateCache(CompressMode mode) => new FullKvCache(Spec);
}
