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
    object Create(LoadedModel model, int contextTokens);
}

/// <summary>The uncompressed cache: the reference every policy is compared with.</summary>
public sealed class FullCacheFactory : IKvCacheFactory
{
    public string Policy => "full";
    public KvBudget Budget => KvBudget.Full;
    public object Create(LoadedModel model, int contextTokens) => new FullKvCache(model.Spec, contextTokens);
}

/// <summary>Policy names the harness knows; compressed policies register here (the KV-cache policy registry plugs in).</summary>
public static class PolicyRegistry
{
    private static readonly Dictionary<string, Func<KvBudget, IKvCacheFactory>> Policies = new(StringComparer.Ordinal)
    {
        ["full"] = _ => new FullCacheFactory(),
    };

    public static IReadOnlyCollection<string> Names => Policies.Keys;

    /// <summary>Adds a policy (used when the KV-cache policies are wired in).</summary>
    public static void Register(string name, Func<KvBudget, IKvCacheFactory> make) => Policies[name] = make;

    public static IKvCacheFactory Create(string name, KvBudget budget) =>
        Policies.TryGetValue(name, out var make) ? make(budget)
        : throw new HeadWiseException($"unknown KV-cache policy '{name}'; known policies: {string.Join(", ", Policies.Keys)}");

    /// <summary>Bytes a cache holds now (FullKvCache or IKvCache).</summary>
    public static long BytesOf(object cache) => cache switch
    {
        FullKvCache f => f.Bytes,
        IKvCache c => c.Bytes,
        _ => throw new ArgumentException($"unsupported cache type {cache.GetType().Name}"),
    };
}
