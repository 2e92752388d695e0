using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Eval;

/// <summary>The seam between the harness and KV-cache policies: makes a fresh cache for one prompt of <c>contextTokens</c>.</summary>
public interface IKvCacheFactory
{
    string Policy { get; }
    KvBudget Budget { get; }
    /// <summary>When the cache compresses: the harness calls <see cref="IKvCache.Compress"/> at that point of each prompt.</summary>
    CompressMode Compress { get; }
    IKvCache Create(LoadedModel model, int contextTokens);

    /// <summary>The longest sequence (prompt and answer) this factory's caches run: the model's context unless the policy extends it (<see cref="KvPolicy.LengthLimit"/>).</summary>
    long LengthLimit(ModelSpec spec) => spec.ContextLength;
}

/// <summary>
/// Caches by policy name, each the policy's own (<see cref="KvPolicy.CreateCache"/>: "full" is the plain uncompressed
/// cache every policy is compared with); <see cref="KvPolicies"/> checks names, budgets, parameters and atlas scores.
/// </summary>
public sealed class PolicyCacheFactory : IKvCacheFactory
{
    private readonly HeadScores? _atlas;
    private readonly string? _parameters;

    public PolicyCacheFactory(string policy, KvBudget budget, CompressMode compress, HeadScores? atlas = null, string? parameters = null)
    {
        Policy = KvPolicies.RequireKnown(policy);
        Budget = KvPolicies.Declaration(Policy).TakesBudget ? budget : KvBudget.All;
        Compress = compress;
        _atlas = atlas;
        _parameters = parameters;
    }

    public string Policy { get; }
    public KvBudget Budget { get; }
    public CompressMode Compress { get; }

    /// <summary>Fails now, naming the problem, if the policy cannot be built for this model (unknown name or parameter, missing scores, budget shape).</summary>
    public PolicyCacheFactory Check(ModelSpec spec)
    {
        Make(spec);
        return this;
    }

    public IKvCache Create(LoadedModel model, int contextTokens) => Make(model.Spec).CreateCache(Compress);

    public long LengthLimit(ModelSpec spec) => Make(spec).LengthLimit;

    private KvPolicy Make(ModelSpec spec) => KvPolicies.Create(Policy, Budget, spec, _atlas, _parameters);
}
