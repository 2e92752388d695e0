using System.Diagnostics;

namespace HeadWise.Cli.Commands;

/// <summary>
/// The one progress style of every long verb, always on stderr so stdout and output files stay clean:
/// <c>WHAT [#########.....] done/total label mm:ss</c>, redrawn in place on a terminal and written as a line every few
/// seconds (and at the end) when stderr goes to a file. <see cref="Note"/> prints a timestamped line in the same style.
/// </summary>
internal sealed class ProgressBar(string what)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private TimeSpan _lastLine = TimeSpan.FromSeconds(-1e6);
    private int _drawn;

    public void Report(long done, long total, string? label = null)
    {
        double frac = total > 0 ? Math.Clamp((double)done / total, 0, 1) : 0;
        var line = $"{what} [{new string('#', (int)(frac * 30)).PadRight(30, '.')}] {done}/{total}{(label is null ? "" : " " + label)} {Elapsed}";
        if (_terminal)
        {
            Console.Error.Write("\r" + line.PadRight(_drawn));
            _drawn = line.Length;
            if (done >= total) Finish();
        }
        else if (done >= total || _clock.Elapsed - _lastLine >= TimeSpan.FromSeconds(5))
        {
            Console.Error.WriteLine(line);
            _lastLine = _clock.Elapsed;
        }
    }

    /// <summary>A message between updates: <c>[mm:ss] message</c>.</summary>
    public void Note(string message)
    {
        Finish();
        Console.Error.WriteLine($"[{Elapsed}] {message}");
    }

    private string Elapsed => _clock.Elapsed.ToString(_clock.Elapsed.TotalHours >= 1 ? @"h\:mm\:ss" : @"mm\:ss");

    private void Finish()
    {
        if (_drawn == 0) return;
        Console.Error.WriteLine();
        _drawn = 0;
    }
}
