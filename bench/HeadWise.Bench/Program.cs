using HeadWise;
using HeadWise.Bench;

// Benchmarks are commands, not tests: `dotnet run -c Release --project bench/HeadWise.Bench -- <mode> [options]`.
// One benchmark per mode, each in its own file.
var modes = new Dictionary<string, Func<string[], int>>
{
    ["runtime"] = RuntimeBench.Run,
    ["hooks-overhead"] = HooksOverheadBench.Run,
    ["load-memory"] = LoadMemoryBench.Run,
    ["retrieval-mask"] = RetrievalMaskBench.Run,
    ["retrieval-agreement"] = RetrievalAgreementBench.Run,
    ["big-model"] = BigModelBench.Run,
    ["atlas-dtype"] = AtlasDtypeBench.Run,
    ["sparse-prefill"] = SparsePrefillBench.Run,
    ["sparse-attention"] = SparseAttentionBench.Run,
    ["kv"] = a => KvBench.Main(["kv", .. a]),
    ["kv-child"] = a => KvBench.Main(["kv-child", .. a]), // KvBench measures each cache in its own child process
};
if (args.Length == 0 || !modes.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: HeadWise.Bench <{string.Join("|", modes.Keys.Where(k => k != "kv-child"))}> [options]");
    return 2;
}
try
{
    return run(args[1..]);
}
catch (Exception e) when (e is HeadWiseException or IOException or UnauthorizedAccessException or FormatException or OverflowException)
{
    // Bad options or files (a wrong path, a number that does not parse): one line, as the CLI reports them; anything
    // else is a bug in the benchmark and keeps its stack trace.
    Console.Out.Flush();
    Console.Error.WriteLine("error: " + ErrorText.OneLine(e.Message));
    return 1;
}
