using HeadWise.Bench;

// Benchmarks, one mode per file: `dotnet run -c Release --project bench/HeadWise.Bench -- MODE ARGS`.
return args.FirstOrDefault() switch
{
    "load-memory" => LoadMemoryBench.Run(args[1..]),
    "scratch" => ScratchBench.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("modes: load-memory [--size-mb N] [--dir DIR] | scratch MODEL.gguf");
    return 1;
}
