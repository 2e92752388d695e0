using HeadWise.Eval.Tasks;
using HeadWise.Formats;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivor SentenceSource.cs:38): a haystack text over the text-size limit is refused before it
/// is read, in one error that names the file and calls it a haystack text. The file is sparse: one byte over the limit
/// costs no disk.
/// </summary>
public class HaystackSizeLimitTests
{
    [Fact]
    public void An_oversized_haystack_text_is_refused_by_name()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "huge.txt");
        using (var f = File.Create(path)) f.SetLength(FileLimits.Text + 1);
        var e = Assert.Throws<InvalidModelFileException>(() => SentenceSource.FromFile(path));
        Assert.StartsWith($"{path}: haystack text is ", e.Message);
        Assert.EndsWith(" a haystack text may have", e.Message);
    }
}
