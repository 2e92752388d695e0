using System.CommandLine;
using HeadWise.Eval;
using HeadWise.Prefill;

namespace HeadWise.Cli.Commands;

/// <summary>`--prefill proxyattn|dhsa [--prefill-params k=v,..]` for bench and sweep: a sparse prefill with the full cache.</summary>
internal sealed class PrefillOptions
{
    public Option<string?> Prefill { get; } = new("--prefill")
    {
        Description = $"Sparse prefill: {string.Join(", ", SparsePrefills.Names)} (ProxyAttn, DHSA; see docs/fidelity.md); decoding stays exact; runs with the full cache",
    };

    public Option<string?> Params { get; } = new("--prefill-params") { Description = "key=value,... " + SparsePrefills.Help };

    public IEnumerable<Option> All => [Prefill, Params];

    /// <summary>The method asked for (checked now: an unknown name, key or a value out of range is an error), or null.</summary>
    public ISparsePrefill? Read(ParseResult r)
    {
        if (r.GetValue(Prefill) is not { } name)
        {
            if (r.GetValue(Params) is not null) throw new HeadWiseException("--prefill-params needs --prefill");
            return null;
        }
        return SparsePrefills.Create(name, r.GetValue(Params));
    }

    /// <summary><paramref name="factory"/> with the sparse prefill, or itself when none is asked for.</summary>
    public static IKvCacheFactory Wrap(IKvCacheFactory factory, ISparsePrefill? method) =>
        method is null ? factory : new SparsePrefillFactory(factory, method);
}
