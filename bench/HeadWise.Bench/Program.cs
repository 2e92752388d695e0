using HeadWise.Bench;

// Small dispatcher: one benchmark per verb, each in its own file.
var benches = new Dictionary<string, Func<string[], int>>
{
    ["decode"] = DecodeBench.Run,
    ["hooks-overhead"] = HooksOverheadBench.Run,
};
if (args.Length == 0 || !benches.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: HeadWise.Bench <{string.Join("|", benches.Keys)}> MODEL [options]");
    return 1;
}
return run(args[1..]);
