using HeadWise.Bench;

// Benchmarks are commands, not tests: `dotnet run -c Release --project bench/HeadWise.Bench -- <mode> [options]`.
var modes = new Dictionary<string, Func<string[], int>>
{
    ["runtime"] = RuntimeBench.Run,
};
if (args.Length == 0 || !modes.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: HeadWise.Bench <{string.Join("|", modes.Keys)}> [options]");
    return 2;
}
return run(args[1..]);
