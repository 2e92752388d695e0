using HeadWise.Models;

namespace HeadWise.KvCache;

/// <summary>
/// A budget allocation over any scorer, as kvpress's <c>AdaKVPress(scorer)</c>: the allocation decides how many positions
/// each layer and KV head keeps (<see cref="KvPolicy.Capacity"/>, or <see cref="KvPolicy.Evictions"/> across a layer's
/// heads); the scorer (<c>scorer=snapkv</c> by default, or h2o, streaming, ...) decides which, and what decoding does.
/// </summary>
public abstract class AllocationPolicy(KvPolicy scorer) : KvPolicy(scorer.Spec, scorer.Budget)
{
    /// <summary>The parameter every allocation declares: which scorer ranks the slots within each head.</summary>
    public static PolicyParameter ScorerParameter { get; } = PolicyParameter.Name(PolicyArguments.ScorerKey, "snapkv",
        "the scorer that ranks each head's positions: " + "a policy that scores (streaming, h2o, snapkv); its parameters may be given too");

    public KvPolicy Scorer { get; } = scorer;
    public override KvStats Needs => Scorer.Needs;
    public override int Window => Scorer.Window;
    public override bool EvictsWhileDecoding => Scorer.EvictsWhileDecoding;
    public override double[] Score(HeadView head, long length, long capacity) => Scorer.Score(head, length, capacity);

    /// <summary>Positions of a head's capacity the scorer protects at the end of the sequence (its observation window).</summary>
    protected long ProtectedWindow(long capacity) => Math.Min(Scorer.Window, capacity);
}
