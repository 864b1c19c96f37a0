-- The original Peregrin schema as an existing MariaDB installation has it: MyISAM tables in
-- 3-byte utf8, TIMESTAMP columns with the server's implicit defaults, no foreign keys.
CREATE TABLE Engines (
  EngineId int(11) NOT NULL AUTO_INCREMENT,
  EngineName varchar(100) NOT NULL,
  EngineVersion varchar(20) NOT NULL,
  EngineDesc text,
  EngineDisabled tinyint(1) NOT NULL DEFAULT 0,
  EngineCreated timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (EngineId),
  UNIQUE KEY EngineName (EngineName, EngineVersion)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE Actions (
  actionId int(11) NOT NULL AUTO_INCREMENT,
  actionName varchar(100) NOT NULL,
  actionDesc text,
  actionCreated timestamp NOT NULL DEFAULT current_timestamp(),
  PRIMARY KEY (actionId),
  UNIQUE KEY actionName (actionName)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE EngineActions (
  engineActionId int(11) NOT NULL AUTO_INCREMENT,
  engineId int(11) NOT NULL,
  actionId int(11) NOT NULL,
  actionFunction varchar(100) DEFAULT NULL,
  actionParams text,
  engineActionDisabled tinyint(1) NOT NULL DEFAULT 0,
  engineActionCreated timestamp NOT NULL DEFAULT current_timestamp(),
  PRIMARY KEY (engineActionId)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE Items (
  itemId int(11) NOT NULL AUTO_INCREMENT,
  ItemURI text NOT NULL,
  EngineId int(11) DEFAULT NULL,
  ItemDTS timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  itemCreated timestamp NOT NULL DEFAULT '0000-00-00 00:00:00',
  PRIMARY KEY (itemId)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE ItemData (
  ItemDataId int(11) NOT NULL AUTO_INCREMENT,
  itemId int(11) NOT NULL,
  itemData varchar(100) NOT NULL,
  itemDataValue text,
  itemDataSeq int(11) NOT NULL DEFAULT 0,
  itemDataAdded timestamp NOT NULL DEFAULT current_timestamp(),
  PRIMARY KEY (ItemDataId)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE ItemEvents (
  ItemEventId int(11) NOT NULL AUTO_INCREMENT,
  engineId int(11) NOT NULL,
  actionId int(11) NOT NULL,
  itemId int(11) NOT NULL,
  itemEventAddedDate timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  itemEventDate timestamp NULL DEFAULT NULL,
  PRIMARY KEY (ItemEventId)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE LinkTypes (
  LinkTypeId int(11) NOT NULL AUTO_INCREMENT,
  LinkTypeName varchar(50) NOT NULL,
  LinkTypeDesc text,
  PRIMARY KEY (LinkTypeId),
  UNIQUE KEY LinkTypeName (LinkTypeName)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE ItemLinks (
  itemLinkId int(11) NOT NULL AUTO_INCREMENT,
  EngineId int(11) DEFAULT NULL,
  itemId_left int(11) NOT NULL,
  itemId_right int(11) NOT NULL,
  linkTypeId int(11) NOT NULL,
  itemLinkDTS timestamp NOT NULL DEFAULT current_timestamp(),
  PRIMARY KEY (itemLinkId)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE Status (
  statusId int(11) NOT NULL AUTO_INCREMENT,
  engineId int(11) DEFAULT NULL,
  actionId int(11) DEFAULT NULL,
  StatusMessage text,
  StatusDate timestamp NOT NULL DEFAULT current_timestamp(),
  PRIMARY KEY (statusId)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE Config (
  configId int(11) NOT NULL AUTO_INCREMENT,
  configName varchar(100) NOT NULL,
  configValue text,
  configUpdated timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (configId),
  UNIQUE KEY configName (configName)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

-- What the original installer seeded, and some collected data, including the duplicates the
-- original schema let in.
INSERT INTO LinkTypes (LinkTypeName, LinkTypeDesc) VALUES
  ('contains', 'contains'), ('references', 'references'), ('download', 'download'),
  ('duplicate', 'duplicate'), ('related', 'related');
INSERT INTO Actions (actionName, actionDesc, actionCreated) VALUES
  ('WebCrawler', 'crawl', '2014-03-01 10:00:00'), ('extractor', 'extract', '2014-03-01 10:00:00'),
  ('config', 'config', '2014-03-01 10:00:00');
INSERT INTO Engines (EngineName, EngineVersion, EngineDesc, EngineCreated) VALUES
  ('SystemEngine', '1.0', 'system', '2014-03-01 10:00:00'),
  ('craigslist', '1.2', 'Craigslist jobs', '2014-03-02 11:00:00');
INSERT INTO EngineActions (engineId, actionId, actionFunction) VALUES
  (2, 2, 'extract'), (2, 2, 'extract_v2');
INSERT INTO Config (configName, configValue, configUpdated) VALUES
  ('RunQueue', '0', '2015-06-01 12:00:00'), ('DefaultDelay', '9', '2015-06-01 12:00:00');
INSERT INTO Items (ItemURI, EngineId, ItemDTS, itemCreated) VALUES
  ('http://sfbay.craigslist.org/sof/4831182004.html', 2, '2015-01-02 03:04:05', '2015-01-02 03:04:05'),
  ('http://sfbay.craigslist.org/sof/4831182005.html', 2, '2015-01-03 03:04:05', '2015-01-03 03:04:05'),
  ('http://sfbay.craigslist.org/sof/4831182004.html', 2, '2015-02-01 00:00:00', '2015-02-01 00:00:00'),
  ('http://sfbay.craigslist.org/search/sof?query=python', 2, '2015-01-01 00:00:00', '2015-01-01 00:00:00');
INSERT INTO ItemData (itemId, itemData, itemDataValue, itemDataSeq, itemDataAdded) VALUES
  (1, 'title', 'Python developer – remote', 0, '2015-01-02 03:04:05'),
  (1, 'image', 'a.jpg', 0, '2015-01-02 03:04:05'),
  (1, 'image', 'b.jpg', 1, '2015-01-02 03:04:05'),
  (3, 'title', 'Python developer – remote (seen again)', 0, '2015-02-01 00:00:00'),
  (4, 'keyword', 'sfbay|en|us|sof|python|jjj', 0, '2015-01-01 00:00:00');
INSERT INTO ItemLinks (EngineId, itemId_left, itemId_right, linkTypeId, itemLinkDTS) VALUES
  (2, 4, 1, 1, '2015-01-02 03:04:05'), (2, 4, 1, 1, '2015-01-02 03:04:06'),
  (2, 4, 2, 1, '2015-01-03 03:04:05');
INSERT INTO ItemEvents (engineId, actionId, itemId, itemEventAddedDate, itemEventDate) VALUES
  (2, 2, 1, '2015-01-02 03:04:05', '2015-01-02 04:00:00'),
  (2, 2, 1, '2015-01-05 03:04:05', NULL),
  (2, 2, 2, '2015-01-03 03:04:05', '2015-01-03 05:00:00'),
  (2, 2, 2, '2015-01-04 03:04:05', '2015-01-06 05:00:00'),
  (2, 2, 4, '2015-01-01 00:00:00', NULL);
INSERT INTO Status (engineId, actionId, StatusMessage, StatusDate) VALUES
  (1, 3, 'RunQueue set to 0', '2015-06-01 12:00:00');
