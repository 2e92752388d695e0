using HeadWise.Eval;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (ProcessMemory): resident and peak memory are read from the status file's VmRSS and VmHWM lines (kB),
/// falling back to .NET's working set only when the file has no such line. A made-up status file gives numbers no real
/// process has, so a reading that skipped the file shows.
/// </summary>
public class ProcessMemoryStatusTests
{
    [Fact]
    public void Rss_and_peak_come_from_the_status_file()
    {
        var file = Path.Combine(TestPaths.NewTempDir(), "status");
        File.WriteAllLines(file, ["Name:\theadwise", "VmHWM:\t       9 kB", "VmRSS:\t       7 kB"]);
        Assert.Equal(7 * 1024, ProcessMemory.CurrentRss(file));
        Assert.Equal(9 * 1024, ProcessMemory.PeakRss(file));
    }

    [Fact]
    public void Without_the_lines_the_working_set_stands_in()
    {
        var file = Path.Combine(TestPaths.NewTempDir(), "status");
        File.WriteAllLines(file, ["Name:\theadwise"]);
        // A running .NET process holds megabytes.
        Assert.True(ProcessMemory.CurrentRss(file) > 1 << 20);
        Assert.True(ProcessMemory.PeakRss(file) > 1 << 20);
    }
}
