using HeadWise.Fuzz;
using SharpFuzz;

// dotnet HeadWise.Fuzz.dll run TARGET           the AFL++ loop (SharpFuzz); one input per iteration
// dotnet HeadWise.Fuzz.dll once TARGET FILE...  runs inputs once and says what each did (reproducing a finding)
// dotnet HeadWise.Fuzz.dll seeds TARGET DIR     writes the seed corpus made from real files
// dotnet HeadWise.Fuzz.dll measure TARGET QUEUE OUT   copies the slowest and largest-allocating inputs of a corpus to OUT
// dotnet HeadWise.Fuzz.dll list                 the targets
if (args.Length == 0) return Usage();
switch (args[0])
{
    case "list":
        foreach (var t in Targets.All) Console.WriteLine($"{t.Name,-15} {t.Reads}");
        return 0;
    case "run" when args.Length == 2:
    {
        var target = Targets.Find(args[1]);
        var work = Scratch.Directory(target.Name);
        var path = Path.Combine(work, target.FileName);
        Fuzzer.Run(stream =>
        {
            using (var f = File.Create(path)) stream.CopyTo(f);
            try { target.Run(path); }
            catch (HeadWise.HeadWiseException) { }  // the promised one-line error
        });
        return 0;
    }
    case "once" when args.Length >= 3:
    {
        var target = Targets.Find(args[1]);
        var path = Path.Combine(Scratch.Directory(target.Name), target.FileName);
        int crashes = 0;
        foreach (var input in args[2..])
        {
            File.Copy(input, path, overwrite: true);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            try { target.Run(path); Console.WriteLine($"{input}: accepted ({watch.ElapsedMilliseconds} ms)"); }
            catch (HeadWise.HeadWiseException e) { Console.WriteLine($"{input}: error: {e.Message} ({watch.ElapsedMilliseconds} ms)"); }
            catch (Exception e) { crashes++; Console.WriteLine($"{input}: CRASH {e}"); }
        }
        return crashes == 0 ? 0 : 1;
    }
    case "measure" when args.Length == 4:
    {
        // Each input of a corpus (an AFL++ queue) once, timed and with its managed allocations counted; the slowest and
        // the largest-allocating ones are copied to OUT_DIR for the budget test (tests/HeadWise.Tests/Hostile/corpus).
        var target = Targets.Find(args[1]);
        var path = Path.Combine(Scratch.Directory(target.Name), target.FileName);
        var rows = new List<(string File, double Ms, long Allocated)>();
        var inputs = Directory.GetFiles(args[2]).Where(f => !Path.GetFileName(f).StartsWith('.')).Order().ToArray();
        // One pass first so that JIT compilation is not charged to whichever input happens to come first.
        foreach (var input in inputs)
        {
            File.Copy(input, path, overwrite: true);
            try { target.Run(path); } catch (HeadWise.HeadWiseException) { }
        }
        foreach (var input in inputs)
        {
            File.Copy(input, path, overwrite: true);
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            try { target.Run(path); } catch (HeadWise.HeadWiseException) { }
            rows.Add((input, watch.Elapsed.TotalMilliseconds, GC.GetTotalAllocatedBytes(precise: true) - before));
        }
        Directory.CreateDirectory(args[3]);
        var picked = rows.OrderByDescending(r => r.Ms).Take(2).Select(r => (r, "slowest"))
            .Concat(rows.OrderByDescending(r => r.Allocated).Take(2).Select(r => (r, "largest-allocation")))
            .DistinctBy(p => p.r.File).ToList();
        foreach (var ((file, ms, allocated), why) in picked)
        {
            var name = $"{target.Name}-{why}-{Path.GetFileName(file).Split(',')[0].Replace(':', '-')}{Path.GetExtension(target.FileName)}";
            File.Copy(file, Path.Combine(args[3], name), overwrite: true);
            Console.WriteLine($"{name}\t{ms:F0} ms\t{allocated / 1e3:F0} kB allocated\t{new FileInfo(file).Length} bytes");
        }
        Console.WriteLine($"{rows.Count} inputs; slowest {rows.Max(r => r.Ms):F0} ms, largest allocation {rows.Max(r => r.Allocated) / 1e3:F0} kB");
        return 0;
    }
    case "seeds" when args.Length == 3:
        return Seeds.Write(Targets.Find(args[1]).Name, args[2]);
    default:
        return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("usage: HeadWise.Fuzz run TARGET | once TARGET FILE... | seeds TARGET DIR | measure TARGET QUEUE OUT | list");
    return 2;
}

/// <summary>A scratch folder per process, on tmpfs when there is one (a file is written per input).</summary>
static class Scratch
{
    public static string Directory(string target)
    {
        var root = System.IO.Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        var dir = Path.Combine(root, $"headwise-fuzz-{target}-{Environment.ProcessId}");
        System.IO.Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { System.IO.Directory.Delete(dir, true); } catch (IOException) { } };
        return dir;
    }
}
