namespace HeadWise.KvCache;

/// <summary>
/// A cache that keeps everything but attends a selection (DELTA's sparse layers, LongHeads' chunks): how many keys its
/// selective attention attended, against how many the same queries could see. The bench reports the share.
/// </summary>
public interface IAttendedShare
{
    long AttendedKeys { get; }
    long AvailableKeys { get; }
}
