using HeadWise.Eval;
using Xunit;

namespace HeadWise.Tests.Eval;

public class ProcessMemoryTests
{
    // The kernel's own layouts (fs/proc/task_mmu.c pads "%8lu kB" after a tab): below 8 digits spaces fill the width,
    // from 8 digits on the tab alone separates name and number. The 8B bench once read "kB" as the number there.
    [Theory]
    [InlineData("VmHWM:\t    5120 kB", 5120L * 1024)]
    [InlineData("VmHWM:\t12345678 kB", 12345678L * 1024)]
    [InlineData("MemAvailable:   23456789 kB", 23456789L * 1024)]
    public void Reads_a_kilobyte_field_whatever_pads_it(string line, long bytes)
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, ["Name:\theadwise", line, "VmRSS:\t     100 kB"]);
            Assert.Equal(bytes, ProcessMemory.Field(file, line[..(line.IndexOf(':') + 1)]));
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void A_missing_field_is_null_not_zero()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, ["VmRSS:\t     100 kB"]);
            Assert.Null(ProcessMemory.Field(file, "VmHWM:"));
        }
        finally { File.Delete(file); }
    }
}
