using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Eval;

/// <summary>
/// The seam between the harness and KV-cache policies: makes a fresh cache (a <see cref="FullKvCache"/> or an
/// <see cref="IKvCache"/>, whatever Transformer.Forward accepts) for one prompt of <c>contextTokens</c>.
/// </summary>
public interface IKvCacheFactory
{
    string Policy { get; }
    KvBudget Budget { get; }
    IKvCacheState Create(LoadedModel model, int contextTokens);
}

/// <summary>
/// Caches by policy name: "full" is the model's own uncompressed cache (the reference every policy is compared with);
/// any other name is a head-wise cache from <see cref="KvPolicies"/>, which checks names, budgets and atlas scores.
/// </summary>
public sealed class PolicyCacheFactory : IKvCacheFactory
{
    private readonly HeadScores? _atlas;
    private readonly string? _parameters;

    public PolicyCacheFactory(string policy, KvBudget budget, HeadScores? atlas = null, string? parameters = null)
    {
        Policy = KvPolicies.RequireKnown(policy);
        Budget = Policy == "full" ? KvBudget.All : budget;
        _atlas = atlas;
        _parameters = parameters;
    }

    public string Policy { get; }
    public KvBudget Budget { get; }

    /// <summary>Fails now, naming the problem, if the policy cannot be built for this model (unknown name, missing scores, budget shape).</summary>
    public PolicyCacheFactory Check(ModelSpec spec)
    {
        if (Policy != "full") KvPolicies.Create(Policy, Budget.Validate(spec), spec, _atlas, _parameters);
        return this;
    }

    public IKvCacheState Create(LoadedModel model, int contextTokens) => Policy == "full"
        ? new FullKvCache(model.Spec, contextTokens)
        : KvPolicies.CreateCache(model.Spec, KvPolicies.Create(Policy, Budget.Validate(model.Spec), model.Spec, _atlas, _parameters));

}
