using System.CommandLine;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise info --kv`: the KV cache bytes a context length needs under each policy (the given one, or all that need no atlas).</summary>
internal static class KvInfo
{
    public static int Print(string path, LoadOptions loadOptions, int? context, ParseResult r, KvOptions kv)
    {
        using var m = ModelLoader.Load(path, loadOptions);
        var spec = m.Spec;
        int n = context ?? spec.ContextLength;
        if (n < 1 || n > spec.ContextLength) throw new HeadWiseException($"--context must be in 1..{spec.ContextLength}, got {n}");
        bool haveAtlas = r.GetValue(kv.Atlas) is not null;
        var names = r.GetValue(kv.Policy) is { } one ? [one]
            : KvPolicies.Names.Where(p => haveAtlas || p is not ("headkv" or "duo" or "taskkv")).ToArray();
        long full = KvSizes.Bytes(KvPolicies.Create("full", KvBudget.All, spec), n);
        Console.WriteLine();
        Console.WriteLine($"KV cache at {n} tokens, budget {r.GetValue(kv.Budget)} ({spec.Compute.Name()}; kept positions x head size x 2 x {spec.Compute.ElementSize()} bytes)");
        foreach (var name in names)
        {
            var policy = kv.Create(name, r, spec);
            long bytes = KvSizes.Bytes(policy, n);
            Console.WriteLine($"  {name,-10} {KvSizes.KeptPositions(policy, n),12:N0} positions {bytes / 1048576.0,10:F2} MiB  {100.0 * bytes / full,6:F1}%");
        }
        if (!haveAtlas) Console.WriteLine("  (headkv, duo, taskkv need --atlas)");
        return 0;
    }
}
